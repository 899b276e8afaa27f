#include "handlers/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <memory>
#include <optional>

#include "base/hex.hpp"

namespace effectd::handlers {
namespace {

constexpr std::size_t kMaxHeaderLength = 4096;  // Stripe sends ~150 bytes, a few more in rotation
constexpr std::size_t kMaxV1 = 16;
using Digest = std::array<unsigned char, 32>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<Digest> decodeHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, value, 16);
    if (ec != std::errc{} || end != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<unsigned char>(value);
  }
  return out;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

std::optional<Digest> hmac(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  // Fetched once: fetching is the expensive part, and the algorithm is immutable.
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac));
  char digestName[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digestName, 0),
                               OSSL_PARAM_construct_end()};
  const auto prefix = std::to_string(timestamp) + ".";
  Digest out{};
  std::size_t len = 0;
  const bool ok = ctx &&
                  EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                               secret.size(), params) == 1 &&
                  EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(prefix.data()),
                                 prefix.size()) == 1 &&
                  EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()),
                                 body.size()) == 1 &&
                  EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1;
  if (!ok) return std::nullopt;  // callers then reject: nothing can match
  return out;
}

}  // namespace

std::string_view describe(SignatureError error) {
  switch (error) {
    case SignatureError::None:
      return "ok";
    case SignatureError::MissingHeader:
      return "missing Stripe-Signature header";
    case SignatureError::Malformed:
      return "malformed Stripe-Signature header";
    case SignatureError::MissingTimestamp:
      return "Stripe-Signature has no valid timestamp";
    case SignatureError::NoV1Signature:
      return "Stripe-Signature has no v1 signature";
    case SignatureError::TooOld:
      return "timestamp outside the tolerance (too old)";
    case SignatureError::TooNew:
      return "timestamp outside the tolerance (in the future)";
    case SignatureError::NoMatch:
      return "no signature matches the configured secrets";
  }
  return "unknown";
}

ParsedSignature parseSignatureHeader(std::string_view value) {
  ParsedSignature parsed;
  value = trim(value);
  if (value.empty()) return {SignatureError::MissingHeader, {}};
  if (value.size() > kMaxHeaderLength) return {SignatureError::Malformed, {}};
  bool haveTimestamp = false;
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto item = trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return {SignatureError::Malformed, {}};
    const auto key = trim(item.substr(0, eq));
    const auto val = trim(item.substr(eq + 1));
    if (key == "t") {
      std::int64_t t = 0;
      auto [end, ec] = std::from_chars(val.data(), val.data() + val.size(), t);
      if (ec != std::errc{} || end != val.data() + val.size() || t <= 0 || haveTimestamp) {
        return {SignatureError::MissingTimestamp, {}};
      }
      parsed.header.timestamp = t;
      haveTimestamp = true;
    } else if (key == "v1") {
      if (parsed.header.v1.size() == kMaxV1) return {SignatureError::Malformed, {}};
      parsed.header.v1.emplace_back(val);
    }
    // v0 and unknown schemes are ignored, as Stripe's libraries do.
  }
  if (!haveTimestamp) return {SignatureError::MissingTimestamp, {}};
  if (parsed.header.v1.empty()) return {SignatureError::NoV1Signature, {}};
  return parsed;
}

SignatureError verifySignature(std::string_view headerValue, std::string_view body,
                               const VerifyOptions& options) {
  auto parsed = parseSignatureHeader(headerValue);
  if (parsed.error != SignatureError::None) return parsed.error;

  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(options.now.time_since_epoch()).count();
  const auto tolerance = options.tolerance.count();
  if (parsed.header.timestamp < now - tolerance) return SignatureError::TooOld;
  if (parsed.header.timestamp > now + tolerance) return SignatureError::TooNew;

  // Every candidate is compared against every secret, with no early exit, so
  // the time taken does not tell an attacker which comparison came closest.
  bool matched = false;
  for (const auto& secret : options.secrets) {
    const auto expected = hmac(secret, parsed.header.timestamp, body);
    if (!expected) continue;
    for (const auto& candidate : parsed.header.v1) {
      const auto digest = decodeHex(candidate);
      if (!digest) continue;
      matched |= CRYPTO_memcmp(digest->data(), expected->data(), expected->size()) == 0;
    }
  }
  return matched ? SignatureError::None : SignatureError::NoMatch;
}

std::string signPayload(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  const auto digest = hmac(secret, timestamp, body).value_or(Digest{});
  return "t=" + std::to_string(timestamp) + ",v1=" +
         hexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace effectd::handlers
