#include "handlers/event_status.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "sql/status_literals.hpp"

namespace effectd::handlers {
namespace {

using std::chrono::seconds;

const RetryPolicy kPolicy{.backoff = {.base = seconds(10), .max = seconds(3600)}, .maxAttempts = 3};

TEST(EventStatusTest, EveryStatusHasTheTablesNameAndBack) {
  const auto names = eventStatusNames();
  EXPECT_EQ(names, (std::vector<std::string_view>{"received", "processed", "ignored", "failed"}));
  for (const auto name : names) EXPECT_EQ(toString(*parseEventStatus(name)), name);
  EXPECT_FALSE(parseEventStatus("Processed"));
  EXPECT_THROW(toString(static_cast<EventStatus>(17)), std::logic_error);
}

TEST(EventStatusTest, ProcessedAndIgnoredAreFinishedWithNoRetry) {
  for (const auto verdict : {EventStatus::Processed, EventStatus::Ignored}) {
    const auto after = afterRun(verdict, true, 0, kPolicy);
    EXPECT_EQ(after.status, verdict);
    EXPECT_TRUE(after.finished);
    EXPECT_FALSE(after.retryIn);
  }
}

TEST(EventStatusTest, AFailureIsDueAgainAfterItsBackoffUntilTheLastAttempt) {
  const auto first = afterRun(EventStatus::Failed, true, 0, kPolicy);
  EXPECT_EQ(first.status, EventStatus::Failed);
  EXPECT_FALSE(first.finished);
  ASSERT_TRUE(first.retryIn);
  // The first backoff step (10 s), jittered by at most a quarter.
  EXPECT_GE(*first.retryIn, 7.5);
  EXPECT_LE(*first.retryIn, 12.5);
  EXPECT_TRUE(afterRun(EventStatus::Failed, true, 1, kPolicy).retryIn);
  // The third run of three: it waits for an operator.
  EXPECT_FALSE(afterRun(EventStatus::Failed, true, 2, kPolicy).retryIn);
  // A failure the handlers say will not heal waits for an operator at once.
  EXPECT_FALSE(afterRun(EventStatus::Failed, false, 0, kPolicy).retryIn);
}

TEST(EventStatusTest, ARunCannotEndReceived) {
  EXPECT_THROW(afterRun(EventStatus::Received, true, 0, kPolicy), std::logic_error);
}

TEST(EventStatusTest, TheSqlsStatusesAreQuotedLiteralsAndATypoThrows) {
  EXPECT_EQ(eventSql(R"(WHERE "status" IN ({{processed}}, {{ignored}}) AND p #>> '{a,b}' = 'x')"),
            R"(WHERE "status" IN ('processed', 'ignored') AND p #>> '{a,b}' = 'x')");
  EXPECT_THROW(eventSql(R"(WHERE "status" = {{proccessed}})"), std::logic_error);
  EXPECT_THROW(eventSql(R"(WHERE "status" = {{sent}})"), std::logic_error);  // an effect's
  EXPECT_THROW(eventSql(R"(WHERE "status" = {{failed)"), std::logic_error);
}

}  // namespace
}  // namespace effectd::handlers
