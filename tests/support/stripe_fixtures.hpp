// Stripe events for tests, built from the objects in tests/fixtures/stripe/
// in either API shape, with the fields a scenario needs set.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace effectd::testing {

enum class ApiShape { Legacy, Current };  // 2020-03-02, 2025-03-31.basil
std::string apiVersion(ApiShape shape);

struct SubscriptionSpec {
  std::string id = "sub_1";
  std::string customer = "cus_1";
  std::string status = "active";
  std::string price = "price_pro";
  std::string product = "prod_pro";
  std::int64_t quantity = 1;
  std::int64_t created = 1700000000;
  std::int64_t periodStart = 1700000000;
  std::int64_t periodEnd = 1702592000;
  std::optional<std::int64_t> trialStart;
  std::optional<std::int64_t> trialEnd;
  std::optional<std::int64_t> canceledAt;
  std::optional<std::int64_t> endedAt;
  bool cancelAtPeriodEnd = false;
  std::string organizationId;  // metadata.organizationId, when set
};

struct InvoiceSpec {
  std::string id = "in_1";
  std::string customer = "cus_1";
  std::string subscription = "sub_1";
  std::int64_t amount = 2900;
  std::int64_t attemptCount = 1;
  bool paid = true;
  std::string customerEmail = "billing@customer.example";
};

struct CheckoutSpec {
  std::string id = "cs_test_1";
  std::string customer = "cus_1";
  std::string subscription = "sub_1";
  std::string clientReferenceId;       // the organization, as a buyer may set it
  std::string metadataOrganizationId;  // the organization, as the app's server sets it
};

// `previousAttributesJson` is data.previous_attributes ("" for none).
std::string subscriptionEvent(ApiShape shape, const std::string& eventId, const std::string& type,
                              std::int64_t created, const SubscriptionSpec& spec,
                              const std::string& previousAttributesJson = "");
std::string invoiceEvent(ApiShape shape, const std::string& eventId, const std::string& type,
                         std::int64_t created, const InvoiceSpec& spec);
std::string checkoutCompletedEvent(ApiShape shape, const std::string& eventId, std::int64_t created,
                                   const CheckoutSpec& spec);
std::string customerDeletedEvent(ApiShape shape, const std::string& eventId, std::int64_t created,
                                 const std::string& customer);

// The effect keys the billing lifecycle of issue 3 causes with the default
// ids above (sub_1, invoice in_1 paid, invoice in_2 failed once): checkout,
// created, active, paid, past_due, payment failed, active, deleted.
std::set<std::string> lifecycleEffectKeys();

}  // namespace effectd::testing
