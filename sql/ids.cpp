#include "sql/ids.hpp"

#include "base/hex.hpp"

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <random>

namespace effectd::sql {

namespace {
// 8-4-4-4-12 hex digits of 16 bytes.
std::string formatUuid(const unsigned char* bytes) {
  const auto hex = hexEncode(std::string_view(reinterpret_cast<const char*>(bytes), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}
}  // namespace

std::string newUuidV7() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  const auto r1 = rng();
  const auto r2 = rng();
  for (int i = 6; i < 16; ++i) {
    b[i] = static_cast<std::uint8_t>((i < 11 ? r1 : r2) >> (8 * (i % 8)));
  }
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  return formatUuid(b.data());
}

std::string uuidV5(const std::string& name) {
  // effectd's namespace: UUIDv5("effectd", DNS namespace), fixed forever.
  static constexpr unsigned char ns[16] = {0x5c, 0x3e, 0x1f, 0x80, 0x7a, 0x2d, 0x5b, 0x4e,
                                           0x9a, 0x61, 0x0d, 0x2e, 0x8f, 0x43, 0xb7, 0x15};
  std::string input(reinterpret_cast<const char*>(ns), sizeof ns);
  input += name;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>(0x50 | (digest[6] & 0x0f));  // version 5
  digest[8] = static_cast<unsigned char>(0x80 | (digest[8] & 0x3f));  // RFC 4122 variant
  return formatUuid(digest);
}

}  // namespace effectd::sql
