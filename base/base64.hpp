// Base64 (RFC 4648, with padding) over OpenSSL, for signatures and basic auth.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace effectd {

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace effectd
