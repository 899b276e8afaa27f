// Stripe's webhook signature scheme: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`,
// HMAC-SHA256 keyed with the whole `whsec_...` string over `<t>.<raw body>`.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace effectd::handlers {

enum class SignatureError {
  None,
  MissingHeader,     // no Stripe-Signature header
  Malformed,         // not a comma-separated list of key=value, or too long
  MissingTimestamp,  // no t=, or t is not a unix time
  NoV1Signature,     // no v1= entry (v0 and unknown schemes are ignored)
  TooOld,            // t older than the tolerance
  TooNew,            // t further in the future than the tolerance
  NoMatch,           // no v1 matches any configured secret
};

std::string_view describe(SignatureError error);

struct SignatureHeader {
  std::int64_t timestamp = 0;
  std::vector<std::string> v1;  // hex digests, as sent
};

struct ParsedSignature {
  SignatureError error = SignatureError::None;
  SignatureHeader header;
};

// Parses the header value. Larger headers than Stripe ever sends are refused.
ParsedSignature parseSignatureHeader(std::string_view value);

struct VerifyOptions {
  std::span<const std::string> secrets;  // any may match (rotation)
  std::chrono::seconds tolerance{300};
  std::chrono::system_clock::time_point now;
};

// Checks the header against the raw body. The body is not parsed.
SignatureError verifySignature(std::string_view headerValue, std::string_view body,
                               const VerifyOptions& options);

// `t=<timestamp>,v1=<hex>` for the body, as Stripe would send it.
std::string signPayload(std::string_view secret, std::int64_t timestamp, std::string_view body);

}  // namespace effectd::handlers
