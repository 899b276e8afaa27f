// The Stripe-Signature parser and verifier: any header against any body.
// Invariants: a header signed here verifies, and stops verifying when one
// digit changes; an input header verifies only if it carries the body's
// real signature under one of the secrets.
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "handlers/signature.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::handlers;

namespace {

std::string digestOf(const std::string& signedHeader) {
  return signedHeader.substr(signedHeader.find("v1=") + 3);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = asText(data, size);
  // "header\nbody", or the whole input as both.
  const auto newline = input.find('\n');
  const auto header = input.substr(0, newline);
  const auto body = newline == std::string_view::npos ? input : input.substr(newline + 1);
  const std::vector<std::string> secrets{"whsec_fuzz_one", "whsec_fuzz_two"};
  constexpr std::int64_t kNow = 1760000000;
  const VerifyOptions options{
      .secrets = secrets,
      .tolerance = std::chrono::seconds(300),
      .now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow))};

  const auto parsed = parseSignatureHeader(header);
  if (verifySignature(header, body, options) == SignatureError::None) {
    FUZZ_CHECK(parsed.error == SignatureError::None);
    bool carries = false;
    for (const auto& secret : secrets) {
      const auto real = digestOf(signPayload(secret, parsed.header.timestamp, body));
      for (auto v1 : parsed.header.v1) {
        // Hex digits in either case spell the same bytes (found by make fuzz).
        for (auto& c : v1) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        carries = carries || v1 == real;
      }
    }
    FUZZ_CHECK(carries);
  }

  auto own = signPayload(secrets[1], kNow, body);
  FUZZ_CHECK(verifySignature(own, body, options) == SignatureError::None);
  own.back() = own.back() == '0' ? '1' : '0';
  FUZZ_CHECK(verifySignature(own, body, options) != SignatureError::None);
  return 0;
}
