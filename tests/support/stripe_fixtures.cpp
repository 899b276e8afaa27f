#include "tests/support/stripe_fixtures.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/process.hpp"

namespace effectd::testing {
namespace {

using nlohmann::json;

json load(ApiShape shape, const std::string& name) {
  const auto path = std::string(EFFECTD_SOURCE_DIR "/tests/fixtures/stripe/") + apiVersion(shape) +
                    "/" + name + ".json";
  const auto text = readFile(path);
  if (text.empty()) throw std::runtime_error("missing fixture " + path);
  return json::parse(text);
}

json orNull(const std::optional<std::int64_t>& v) {
  return v ? json(*v) : json();
}

std::string envelope(ApiShape shape, const std::string& id, const std::string& type,
                     std::int64_t created, json object, json previous = json()) {
  json event{{"id", id},
             {"object", "event"},
             {"api_version", apiVersion(shape)},
             {"created", created},
             {"data", {{"object", std::move(object)}}},
             {"livemode", false},
             {"pending_webhooks", 1},
             {"request", {{"id", "req_fixture"}, {"idempotency_key", nullptr}}},
             {"type", type}};
  if (!previous.is_null()) event["data"]["previous_attributes"] = std::move(previous);
  return event.dump();
}

}  // namespace

std::set<std::string> lifecycleEffectKeys() {
  return {
      "analytics:invoice_paid:in_1",           "analytics:payment_failed:in_2:1",
      "analytics:subscription_canceled:sub_1", "analytics:subscription_started:sub_1",
      "email:payment_failed:in_2:1",           "email:subscription_canceled:sub_1",
      "email:subscription_started:sub_1",
  };
}

std::string apiVersion(ApiShape shape) {
  return shape == ApiShape::Legacy ? "2020-03-02" : "2025-03-31.basil";
}

std::string subscriptionEvent(ApiShape shape, const std::string& eventId, const std::string& type,
                              std::int64_t created, const SubscriptionSpec& s,
                              const std::string& previousAttributesJson) {
  auto o = load(shape, "subscription");
  o["id"] = s.id;
  o["customer"] = s.customer;
  o["status"] = s.status;
  o["created"] = s.created;
  o["start_date"] = s.created;
  o["trial_start"] = orNull(s.trialStart);
  o["trial_end"] = orNull(s.trialEnd);
  o["canceled_at"] = orNull(s.canceledAt);
  o["ended_at"] = orNull(s.endedAt);
  o["cancel_at_period_end"] = s.cancelAtPeriodEnd;
  o["metadata"] = json::object();
  if (!s.organizationId.empty()) o["metadata"]["organizationId"] = s.organizationId;
  auto& item = o["items"]["data"][0];
  item["id"] = "si_" + s.id;
  item["subscription"] = s.id;
  item["quantity"] = s.quantity;
  item["price"]["id"] = s.price;
  item["price"]["product"] = s.product;
  if (shape == ApiShape::Legacy) {
    o["current_period_start"] = s.periodStart;
    o["current_period_end"] = s.periodEnd;
    o["quantity"] = s.quantity;
    item["plan"]["id"] = s.price;
    item["plan"]["product"] = s.product;
    o["plan"] = item["plan"];
  } else {
    item["current_period_start"] = s.periodStart;
    item["current_period_end"] = s.periodEnd;
  }
  json previous = previousAttributesJson.empty() ? json() : json::parse(previousAttributesJson);
  return envelope(shape, eventId, type, created, std::move(o), std::move(previous));
}

std::string invoiceEvent(ApiShape shape, const std::string& eventId, const std::string& type,
                         std::int64_t created, const InvoiceSpec& i) {
  auto o = load(shape, "invoice");
  o["id"] = i.id;
  o["customer"] = i.customer;
  o["customer_email"] = i.customerEmail;
  o["amount_due"] = i.amount;
  o["amount_paid"] = i.paid ? i.amount : 0;
  o["amount_remaining"] = i.paid ? 0 : i.amount;
  o["attempt_count"] = i.attemptCount;
  o["status"] = i.paid ? "paid" : "open";
  o["created"] = created;
  if (shape == ApiShape::Legacy) {
    o["subscription"] = i.subscription;
    o["paid"] = i.paid;
  } else {
    o["parent"]["subscription_details"]["subscription"] = i.subscription;
  }
  return envelope(shape, eventId, type, created, std::move(o));
}

std::string checkoutCompletedEvent(ApiShape shape, const std::string& eventId, std::int64_t created,
                                   const CheckoutSpec& c) {
  auto o = load(shape, "checkout_session");
  o["id"] = c.id;
  o["customer"] = c.customer;
  o["subscription"] = c.subscription;
  o["created"] = created;
  o["client_reference_id"] = c.clientReferenceId.empty() ? json() : json(c.clientReferenceId);
  if (!c.metadataOrganizationId.empty()) o["metadata"]["organizationId"] = c.metadataOrganizationId;
  return envelope(shape, eventId, "checkout.session.completed", created, std::move(o));
}

std::string customerDeletedEvent(ApiShape shape, const std::string& eventId, std::int64_t created,
                                 const std::string& customer) {
  auto o = load(shape, "customer");
  o["id"] = customer;
  return envelope(shape, eventId, "customer.deleted", created, std::move(o));
}

}  // namespace effectd::testing
