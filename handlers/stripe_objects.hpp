// Reads the Stripe objects effectd acts on, in both API shapes: periods on
// the subscription (2020-03-02 and other old versions) or on its items
// (2025-03-31.basil and later); an invoice's subscription in `subscription`
// or in `parent.subscription_details.subscription`.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace effectd::handlers {

using Timestamp = std::optional<std::int64_t>;  // unix seconds, absent when null

struct SubscriptionObject {
  std::string id;
  std::string customer;
  std::string status;
  std::int64_t created = 0;  // when the subscription was created (unix seconds)
  std::string priceId;       // first item's price
  std::string productId;     // first item's price's product
  std::optional<std::int64_t> quantity;
  Timestamp currentPeriodStart;
  Timestamp currentPeriodEnd;
  Timestamp cancelAt;
  bool cancelAtPeriodEnd = false;
  Timestamp canceledAt;
  Timestamp endedAt;
  Timestamp trialStart;
  Timestamp trialEnd;
  bool livemode = false;
  std::string metadataOrganizationId;
};

struct InvoiceObject {
  std::string id;
  std::string customer;
  std::string customerEmail;
  std::string subscription;  // empty for one-off invoices
  std::int64_t amountPaid = 0;
  std::int64_t amountDue = 0;
  std::string currency;
  std::int64_t attemptCount = 0;
  std::string metadataOrganizationId;  // from the subscription details' metadata
};

struct CheckoutSessionObject {
  std::string id;
  std::string mode;
  std::string customer;
  std::string customerEmail;
  std::string subscription;
  // The organization: metadata.organizationId, which only the app's server
  // sets, else client_reference_id, which a buyer may set on a Payment Link
  // or a pricing table.
  std::string organizationId;
  std::string clientReferenceId;
  std::string metadataOrganizationId;
  bool livemode = false;
};

// Each throws std::invalid_argument naming the missing field.
SubscriptionObject readSubscription(const nlohmann::json& object);
InvoiceObject readInvoice(const nlohmann::json& object);
CheckoutSessionObject readCheckoutSession(const nlohmann::json& object);

// An expandable field: the id string, or the expanded object's id.
std::string idOf(const nlohmann::json& value);

}  // namespace effectd::handlers
