// What an HTTP provider's answer does to an effect (DESIGN.md "Outcome"),
// decided without a provider: the table a second send hinges on.
#include "queue/channels/http_outcome.hpp"

#include <gtest/gtest.h>

namespace effectd::queue {
namespace {

using Outcome = DeliveryResult::Outcome;

HttpResponse answered(int status, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.mayHaveBeenSent = true;
  return r;
}

HttpResponse noAnswer(bool mayHaveBeenSent) {
  HttpResponse r;
  r.error = mayHaveBeenSent ? "read: end of stream" : "connect: Connection refused";
  r.mayHaveBeenSent = mayHaveBeenSent;
  return r;
}

TEST(HttpOutcomeTest, EveryTwoHundredIsSent) {
  for (const int status : {200, 201, 202, 204, 299}) {
    EXPECT_EQ(classifyHttp(answered(status), false, "p").outcome, Outcome::Sent) << status;
  }
}

TEST(HttpOutcomeTest, NothingSentIsRetriedWhateverTheProvider) {
  for (const bool idempotent : {false, true}) {
    const auto result = classifyHttp(noAnswer(false), idempotent, "postmark");
    EXPECT_EQ(result.outcome, Outcome::Retry);
    EXPECT_EQ(result.error, "postmark: connect: Connection refused (not sent)");
  }
}

// The request left and no answer came: only a provider that deduplicates may
// be asked again; any other may have delivered it.
TEST(HttpOutcomeTest, ALostAnswerIsUnknownUnlessTheProviderDeduplicates) {
  EXPECT_EQ(classifyHttp(noAnswer(true), true, "resend").outcome, Outcome::Retry);
  const auto result = classifyHttp(noAnswer(true), false, "postmark");
  EXPECT_EQ(result.outcome, Outcome::Unknown);
  EXPECT_NE(result.error.find("may have been delivered"), std::string::npos) << result.error;
}

TEST(HttpOutcomeTest, AnswersThatMayFollowADeliveryAreUnknownForTheOthers) {
  for (const int status : {500, 502, 504, 520, 524}) {
    EXPECT_EQ(classifyHttp(answered(status), false, "p").outcome, Outcome::Unknown) << status;
    EXPECT_EQ(classifyHttp(answered(status), true, "p").outcome, Outcome::Retry) << status;
  }
  // The origin was never reached, or the gateway is merely unavailable.
  for (const int status : {503, 521, 522, 523, 525, 526}) {
    EXPECT_EQ(classifyHttp(answered(status), false, "p").outcome, Outcome::Retry) << status;
  }
}

TEST(HttpOutcomeTest, TemporaryRefusalsAreRetried) {
  for (const int status : {408, 409, 425, 429}) {
    EXPECT_EQ(classifyHttp(answered(status), false, "p").outcome, Outcome::Retry) << status;
  }
}

TEST(HttpOutcomeTest, OurCredentialsRefusedPausesInsteadOfCountingAnAttempt) {
  for (const int status : {401, 403}) {
    for (const bool idempotent : {false, true}) {
      EXPECT_EQ(classifyHttp(answered(status), idempotent, "p").outcome, Outcome::Refused)
          << status;
    }
  }
}

TEST(HttpOutcomeTest, OtherClientErrorsAreDeadWithTheProvidersWords) {
  for (const int status : {400, 404, 410, 413, 422}) {
    EXPECT_EQ(classifyHttp(answered(status), false, "p").outcome, Outcome::Dead) << status;
  }
  const auto result = classifyHttp(answered(422, R"({"message":"bad address"})"), false, "resend");
  EXPECT_EQ(result.error, R"(resend: HTTP 422: {"message":"bad address"})");
  // A long body is cut, so that lastError stays a line.
  const auto longOne = classifyHttp(answered(400, std::string(5000, 'x')), false, "p");
  EXPECT_EQ(longOne.error.size(), std::string("p: HTTP 400: ").size() + 300);
}

TEST(HttpOutcomeTest, RetryAfterInSecondsIsHonouredAndCapped) {
  EXPECT_EQ(classifyHttp(answered(429, {}, {{"retry-after", "30"}}), false, "p").retryAfter,
            std::chrono::seconds(30));
  EXPECT_EQ(classifyHttp(answered(503, {}, {{"Retry-After", "999999"}}), false, "p").retryAfter,
            std::chrono::seconds(86400));
  // Not a number of seconds (an HTTP date, a negative, trailing bytes): the
  // drainer's own backoff decides.
  for (const std::string header : {"Wed, 21 Oct 2026 07:28:00 GMT", "-5", "30s", ""}) {
    EXPECT_FALSE(classifyHttp(answered(429, {}, {{"Retry-After", header}}), false, "p")
                     .retryAfter.has_value())
        << header;
  }
}

}  // namespace
}  // namespace effectd::queue
