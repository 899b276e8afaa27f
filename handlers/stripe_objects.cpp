#include "handlers/stripe_objects.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace effectd::handlers {
namespace {

using nlohmann::json;

const json& field(const json& object, const char* name) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(name);
  return it == object.end() ? null : *it;
}

std::string text(const json& object, const char* name) {
  const auto& v = field(object, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

Timestamp timestamp(const json& object, const char* name) {
  const auto& v = field(object, name);
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

std::string required(std::string value, const char* what) {
  if (value.empty()) throw std::invalid_argument(std::string("object has no ") + what);
  return value;
}

}  // namespace

std::string idOf(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return text(value, "id");
  return {};
}

SubscriptionObject readSubscription(const json& o) {
  SubscriptionObject s;
  s.id = required(text(o, "id"), "subscription id");
  s.customer = required(idOf(field(o, "customer")), "customer");
  s.status = required(text(o, "status"), "status");
  s.created = timestamp(o, "created").value_or(timestamp(o, "start_date").value_or(0));
  s.cancelAt = timestamp(o, "cancel_at");
  s.cancelAtPeriodEnd =
      field(o, "cancel_at_period_end").is_boolean() && field(o, "cancel_at_period_end").get<bool>();
  s.canceledAt = timestamp(o, "canceled_at");
  s.endedAt = timestamp(o, "ended_at");
  s.trialStart = timestamp(o, "trial_start");
  s.trialEnd = timestamp(o, "trial_end");
  s.livemode = field(o, "livemode").is_boolean() && field(o, "livemode").get<bool>();
  s.metadataOrganizationId = text(field(o, "metadata"), "organizationId");

  // Price, product and quantity from the first item; the current API keeps
  // the billing period there too, the old one on the subscription.
  const auto& items = field(field(o, "items"), "data");
  const json& first = items.is_array() && !items.empty() ? items.front() : json();
  const auto& price = field(first, "price");
  const auto& plan = field(o, "plan");
  s.priceId = idOf(price);
  if (s.priceId.empty()) s.priceId = idOf(plan);
  s.productId = idOf(field(price, "product"));
  if (s.productId.empty()) s.productId = idOf(field(plan, "product"));
  if (const auto q = field(first, "quantity"); q.is_number_integer()) {
    s.quantity = q.get<std::int64_t>();
  } else if (const auto top = field(o, "quantity"); top.is_number_integer()) {
    s.quantity = top.get<std::int64_t>();
  }
  s.currentPeriodStart = timestamp(o, "current_period_start");
  s.currentPeriodEnd = timestamp(o, "current_period_end");
  if (!s.currentPeriodStart) s.currentPeriodStart = timestamp(first, "current_period_start");
  if (!s.currentPeriodEnd) s.currentPeriodEnd = timestamp(first, "current_period_end");
  return s;
}

InvoiceObject readInvoice(const json& o) {
  InvoiceObject i;
  i.id = required(text(o, "id"), "invoice id");
  i.customer = required(idOf(field(o, "customer")), "customer");
  i.customerEmail = text(o, "customer_email");
  const auto& details = field(field(o, "parent"), "subscription_details");
  i.subscription = idOf(field(o, "subscription"));
  if (i.subscription.empty()) i.subscription = idOf(field(details, "subscription"));
  i.metadataOrganizationId = text(field(details, "metadata"), "organizationId");
  if (i.metadataOrganizationId.empty()) {
    i.metadataOrganizationId =
        text(field(field(o, "subscription_details"), "metadata"), "organizationId");
  }
  if (const auto& v = field(o, "amount_paid"); v.is_number_integer())
    i.amountPaid = v.get<std::int64_t>();
  if (const auto& v = field(o, "amount_due"); v.is_number_integer())
    i.amountDue = v.get<std::int64_t>();
  if (const auto& v = field(o, "attempt_count"); v.is_number_integer()) {
    i.attemptCount = v.get<std::int64_t>();
  }
  i.currency = text(o, "currency");
  return i;
}

CheckoutSessionObject readCheckoutSession(const json& o) {
  CheckoutSessionObject c;
  c.id = required(text(o, "id"), "checkout session id");
  c.mode = text(o, "mode");
  c.customer = idOf(field(o, "customer"));
  c.customerEmail = text(field(o, "customer_details"), "email");
  if (c.customerEmail.empty()) c.customerEmail = text(o, "customer_email");
  c.subscription = idOf(field(o, "subscription"));
  c.clientReferenceId = text(o, "client_reference_id");
  c.metadataOrganizationId = text(field(o, "metadata"), "organizationId");
  c.organizationId =
      c.metadataOrganizationId.empty() ? c.clientReferenceId : c.metadataOrganizationId;
  c.livemode = field(o, "livemode").is_boolean() && field(o, "livemode").get<bool>();
  return c;
}

}  // namespace effectd::handlers
