#include "handlers/stripe_event.hpp"

#include <gtest/gtest.h>

namespace effectd::handlers {
namespace {

TEST(StripeEventTest, ReadsTheEnvelope) {
  const auto parsed = parseEnvelope(
      R"({"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,)"
      R"("livemode":true,"api_version":"2020-03-02","account":"acct_9","data":{"object":{}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.event.id, "evt_1");
  EXPECT_EQ(parsed.event.type, "invoice.paid");
  EXPECT_EQ(parsed.event.created, 1700000000);
  EXPECT_TRUE(parsed.event.livemode);
  EXPECT_EQ(parsed.event.apiVersion, "2020-03-02");
  EXPECT_EQ(parsed.event.account, "acct_9");
}

TEST(StripeEventTest, NullApiVersionAndNoAccountAreEmpty) {
  const auto parsed = parseEnvelope(R"({"id":"evt_1","type":"x","created":1,"api_version":null})");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.event.apiVersion, "");
  EXPECT_EQ(parsed.event.account, "");
  EXPECT_FALSE(parsed.event.livemode);
}

TEST(StripeEventTest, RejectsWhatIsNotAnEvent) {
  EXPECT_EQ(parseEnvelope("not json").error, "body is not valid JSON");
  EXPECT_EQ(parseEnvelope("[1,2]").error, "body is not a JSON object");
  EXPECT_EQ(parseEnvelope(R"({"type":"x","created":1})").error, "event has no string 'id'");
  EXPECT_EQ(parseEnvelope(R"({"id":5,"type":"x","created":1})").error, "event has no string 'id'");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt","created":1})").error, "event has no string 'type'");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt","type":"x"})").error, "event has no integer 'created'");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt","type":"x","created":"1"})").error,
            "event has no integer 'created'");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt","type":"x","created":1,"object":"invoice"})").error,
            "object is not 'event'");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt","type":"x","created":1,"livemode":"yes"})").error,
            "'livemode' is not a boolean");
}

}  // namespace
}  // namespace effectd::handlers

namespace effectd::handlers {
namespace {

TEST(StripeEventTest, TheEventsObjectIsSkippedButMustStillBeValidJson) {
  const auto parsed = parseEnvelope(
      R"({"id":"evt_2","object":"event","type":"invoice.paid","created":5,"livemode":true,)"
      R"("data":{"object":{"id":"in_1","lines":{"data":[{"id":"il_1"},[1,2,[3]]]}}},"account":"acct_1"})");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.event.id, "evt_2");
  EXPECT_EQ(parsed.event.account, "acct_1");
  EXPECT_TRUE(parsed.event.livemode);
  EXPECT_EQ(
      parseEnvelope(R"({"id":"evt_3","type":"x","created":1,"data":{"object":{"a":}}})").error,
      "body is not valid JSON");
  // A key given twice would mean one id here and another in the stored JSONB.
  EXPECT_EQ(parseEnvelope(R"({"id":"evt_a","type":"x","created":1,"id":"evt_b"})").error,
            "event has 'id' twice");
  // Broken UTF-8 is not JSON.
  EXPECT_EQ(parseEnvelope("{\"id\":\"evt_\xff\",\"type\":\"x\",\"created\":1}").error,
            "body is not valid JSON");
  EXPECT_EQ(parseEnvelope(R"({"id":"evt_a","type":"x","created":1.5})").error,
            "event has no integer 'created'");
  // Past PostgreSQL's last timestamp it could never be stored.
  EXPECT_EQ(parseEnvelope(R"({"id":"evt_a","type":"x","created":253402300800})").error,
            "event has no integer 'created'");
  EXPECT_TRUE(parseEnvelope(R"({"id":"evt_a","type":"x","created":253402300799})").ok());
  EXPECT_EQ(parseEnvelope(R"({"id":"evt_a","type":"x","created":1,"object":5})").error,
            "object is not 'event'");
  // A nested container where a top-level field belongs is no value of it.
  EXPECT_EQ(parseEnvelope(R"({"id":{"x":1},"type":"x","created":1})").error,
            "event has no string 'id'");
}

}  // namespace
}  // namespace effectd::handlers
