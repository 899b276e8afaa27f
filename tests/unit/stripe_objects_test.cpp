#include "handlers/stripe_objects.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace effectd::handlers {
namespace {

using nlohmann::json;

TEST(StripeObjectsTest, OldShapeHasPeriodsOnTheSubscription) {
  const auto s = readSubscription(json::parse(R"({
    "id":"sub_1","customer":"cus_1","status":"active","current_period_start":10,
    "current_period_end":20,"quantity":2,"plan":{"id":"price_1","product":"prod_1"},
    "items":{"data":[{"price":{"id":"price_1","product":"prod_1"},"quantity":2}]},
    "metadata":{"organizationId":"org_1"},"cancel_at_period_end":true})"));
  EXPECT_EQ(s.currentPeriodStart, 10);
  EXPECT_EQ(s.currentPeriodEnd, 20);
  EXPECT_EQ(s.priceId, "price_1");
  EXPECT_EQ(s.productId, "prod_1");
  EXPECT_EQ(s.quantity, 2);
  EXPECT_EQ(s.metadataOrganizationId, "org_1");
  EXPECT_TRUE(s.cancelAtPeriodEnd);
}

TEST(StripeObjectsTest, CurrentShapeHasPeriodsOnTheFirstItem) {
  const auto s = readSubscription(json::parse(R"({
    "id":"sub_1","customer":{"id":"cus_1","object":"customer"},"status":"trialing",
    "trial_end":30,"items":{"data":[{"current_period_start":11,"current_period_end":21,
    "price":{"id":"price_2","product":{"id":"prod_2"}},"quantity":5}]}})"));
  EXPECT_EQ(s.customer, "cus_1");  // expanded
  EXPECT_EQ(s.currentPeriodStart, 11);
  EXPECT_EQ(s.currentPeriodEnd, 21);
  EXPECT_EQ(s.productId, "prod_2");  // expanded
  EXPECT_EQ(s.quantity, 5);
  EXPECT_EQ(s.trialEnd, 30);
  EXPECT_FALSE(s.canceledAt.has_value());
}

TEST(StripeObjectsTest, InvoiceSubscriptionInEitherPlace) {
  EXPECT_EQ(readInvoice(json::parse(R"({"id":"in_1","customer":"cus_1","subscription":"sub_old"})"))
                .subscription,
            "sub_old");
  const auto current = readInvoice(json::parse(R"({"id":"in_1","customer":"cus_1",
      "parent":{"subscription_details":{"subscription":"sub_new","metadata":{"organizationId":"org_9"}}},
      "attempt_count":3,"amount_paid":100,"currency":"eur"})"));
  EXPECT_EQ(current.subscription, "sub_new");
  EXPECT_EQ(current.metadataOrganizationId, "org_9");
  EXPECT_EQ(current.attemptCount, 3);
  EXPECT_EQ(current.currency, "eur");
}

// metadata.organizationId is set by the app's server; client_reference_id
// may be a buyer's choice (a Payment Link's ?client_reference_id=).
TEST(StripeObjectsTest, CheckoutOrganizationFromMetadataThenReference) {
  const auto both = readCheckoutSession(json::parse(
      R"({"id":"cs_1","client_reference_id":"org_a","metadata":{"organizationId":"org_b"}})"));
  EXPECT_EQ(both.organizationId, "org_b");
  EXPECT_EQ(both.clientReferenceId, "org_a");
  EXPECT_EQ(both.metadataOrganizationId, "org_b");
  EXPECT_EQ(readCheckoutSession(json::parse(R"({"id":"cs_1","client_reference_id":"org_a"})"))
                .organizationId,
            "org_a");
  EXPECT_EQ(
      readCheckoutSession(json::parse(R"({"id":"cs_1","metadata":{"organizationId":"org_b"}})"))
          .organizationId,
      "org_b");
}

TEST(StripeObjectsTest, MissingRequiredFieldsAreNamed) {
  EXPECT_THROW(readSubscription(json::parse(R"({"customer":"cus_1","status":"active"})")),
               std::invalid_argument);
  EXPECT_THROW(readInvoice(json::parse(R"({"id":"in_1"})")), std::invalid_argument);
  EXPECT_THROW(readSubscription(json()), std::invalid_argument);
  // Found by fuzz_envelope (tests/fuzz/corpus/envelope/empty_object): an
  // empty data.object is a named error, not a crash.
  EXPECT_THROW(readSubscription(json::object()), std::invalid_argument);
  EXPECT_THROW(readCheckoutSession(json::object()), std::invalid_argument);
}

}  // namespace
}  // namespace effectd::handlers
