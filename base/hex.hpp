// Lower-case hex of raw bytes, and of their SHA-256: migration checksums,
// Message-IDs derived from effect keys, signatures, UUIDs.
#pragma once

#include <string>
#include <string_view>

namespace effectd {

std::string hexEncode(std::string_view bytes);
std::string sha256Hex(std::string_view text);

}  // namespace effectd
