#include "handlers/signature.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace effectd::handlers {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::int64_t kT = 1700000000;
const std::string kBody = R"({"id":"evt_1"})";
const std::string kSecret = "whsec_test_secret";
// HMAC-SHA256("whsec_test_secret", "1700000000.{"id":"evt_1"}"), computed with
// Python's hmac module, independently of this code.
const std::string kDigest = "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a";

SignatureError verify(const std::string& header, std::vector<std::string> secrets = {kSecret},
                      std::int64_t now = kT, const std::string& body = kBody) {
  return verifySignature(header, body,
                         {.secrets = secrets,
                          .tolerance = seconds(300),
                          .now = system_clock::time_point(seconds(now))});
}

TEST(SignatureTest, SignsLikeAnIndependentHmac) {
  EXPECT_EQ(signPayload(kSecret, kT, kBody), "t=1700000000,v1=" + kDigest);
}

TEST(SignatureTest, AcceptsAValidSignature) {
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest), SignatureError::None);
}

TEST(SignatureTest, AcceptsWhitespaceAroundItems) {
  EXPECT_EQ(verify("  t=1700000000 , v1=" + kDigest + " "), SignatureError::None);
}

TEST(SignatureTest, AcceptsWhenAnyOfSeveralV1Matches) {
  const std::string other(64, 'a');
  EXPECT_EQ(verify("t=1700000000,v1=" + other + ",v1=" + kDigest), SignatureError::None);
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest + ",v1=" + other), SignatureError::None);
}

TEST(SignatureTest, IgnoresV0AndUnknownSchemes) {
  EXPECT_EQ(verify("t=1700000000,v0=" + kDigest + ",v1=" + kDigest + ",v9=zz"),
            SignatureError::None);
}

TEST(SignatureTest, RejectsV0Only) {
  EXPECT_EQ(verify("t=1700000000,v0=" + kDigest), SignatureError::NoV1Signature);
}

TEST(SignatureTest, RejectsMissingHeader) {
  EXPECT_EQ(verify(""), SignatureError::MissingHeader);
  EXPECT_EQ(verify("   "), SignatureError::MissingHeader);
}

TEST(SignatureTest, RejectsMissingTimestamp) {
  EXPECT_EQ(verify("v1=" + kDigest), SignatureError::MissingTimestamp);
}

TEST(SignatureTest, RejectsNonNumericOrDuplicateTimestamp) {
  EXPECT_EQ(verify("t=abc,v1=" + kDigest), SignatureError::MissingTimestamp);
  EXPECT_EQ(verify("t=17e8,v1=" + kDigest), SignatureError::MissingTimestamp);
  EXPECT_EQ(verify("t=-5,v1=" + kDigest), SignatureError::MissingTimestamp);
  EXPECT_EQ(verify("t=1700000000,t=1700000000,v1=" + kDigest), SignatureError::MissingTimestamp);
}

TEST(SignatureTest, RejectsHeaderWithoutV1) {
  EXPECT_EQ(verify("t=1700000000"), SignatureError::NoV1Signature);
}

TEST(SignatureTest, RejectsJunk) {
  EXPECT_EQ(verify("garbage"), SignatureError::Malformed);
  EXPECT_EQ(verify("=,=,="), SignatureError::Malformed);
  EXPECT_EQ(verify("t=1700000000,v1=not-hex"), SignatureError::NoMatch);
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest.substr(0, 63)), SignatureError::NoMatch);
}

TEST(SignatureTest, RejectsHugeHeader) {
  std::string header = "t=1700000000";
  for (int i = 0; i < 200; ++i) header += ",v1=" + std::string(64, 'b');
  header += ",v1=" + kDigest;
  EXPECT_EQ(verify(header), SignatureError::Malformed);
}

TEST(SignatureTest, RejectsTooManyV1EvenWhenShort) {
  std::string header = "t=1700000000";
  for (int i = 0; i < 17; ++i) header += ",v1=00";
  EXPECT_EQ(verify(header), SignatureError::Malformed);
}

TEST(SignatureTest, RejectsWrongSecret) {
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest, {"whsec_other"}), SignatureError::NoMatch);
}

TEST(SignatureTest, RejectsModifiedBody) {
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest, {kSecret}, kT, R"({"id":"evt_2"})"),
            SignatureError::NoMatch);
}

TEST(SignatureTest, AcceptsAnyConfiguredSecretDuringRotation) {
  const std::vector<std::string> rotation{"whsec_new", kSecret};
  EXPECT_EQ(verify("t=1700000000,v1=" + kDigest, rotation), SignatureError::None);
  const auto byNew = signPayload("whsec_new", kT, kBody);
  EXPECT_EQ(verify(byNew, rotation), SignatureError::None);
  EXPECT_EQ(verify(byNew, {kSecret}), SignatureError::NoMatch);
}

TEST(SignatureTest, EnforcesToleranceOnBothSides) {
  const auto header = "t=1700000000,v1=" + kDigest;
  EXPECT_EQ(verify(header, {kSecret}, kT + 300), SignatureError::None);
  EXPECT_EQ(verify(header, {kSecret}, kT + 301), SignatureError::TooOld);
  EXPECT_EQ(verify(header, {kSecret}, kT - 300), SignatureError::None);
  EXPECT_EQ(verify(header, {kSecret}, kT - 301), SignatureError::TooNew);
}

TEST(SignatureTest, ChecksToleranceBeforeTheDigest) {
  // An expired request is refused as expired even with a wrong digest, so a
  // replayed old request never costs an HMAC per secret.
  EXPECT_EQ(verify("t=1600000000,v1=" + std::string(64, 'c')), SignatureError::TooOld);
}

TEST(SignatureTest, ParsesAllV1Values) {
  const auto parsed = parseSignatureHeader("t=5,v1=aa,v0=bb,v1=cc");
  ASSERT_EQ(parsed.error, SignatureError::None);
  EXPECT_EQ(parsed.header.timestamp, 5);
  EXPECT_EQ(parsed.header.v1, (std::vector<std::string>{"aa", "cc"}));
}

}  // namespace
}  // namespace effectd::handlers
