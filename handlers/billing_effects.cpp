#include "handlers/billing_effects.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "handlers/handler.hpp"

namespace effectd::handlers {
namespace {

using nlohmann::json;
using queue::EffectKind;

json timeOrNull(const Timestamp& t) {
  return t ? json(isoTime(*t)) : json();
}

void email(HandlerContext& ctx, const std::string& key, const std::string& organizationId,
           const std::string& templateName, json data, const std::string& fallbackEmail) {
  auto recipients = ctx.state.recipients(organizationId, fallbackEmail);
  if (recipients.emails.empty()) {
    log::warn("email not enqueued: no recipient",
              {{"key", key}, {"organization_id", organizationId}, {"event_id", ctx.event.id}});
    return;
  }
  data["organizationName"] = std::move(recipients.organizationName);
  const json payload{
      {"to", std::move(recipients.emails)}, {"template", templateName}, {"data", std::move(data)}};
  ctx.effects.push_back({.key = key,
                         .kind = EffectKind::Email,
                         .payload = payload.dump(),
                         .organizationId = organizationId,
                         .sourceEventId = ctx.event.id});
}

void analytics(HandlerContext& ctx, const std::string& key, const std::string& organizationId,
               const std::string& name, json properties) {
  // The timestamp is the event's, so a provider that deduplicates on
  // (uuid, timestamp) sees the same event on every retry.
  const json payload{{"event", name},
                     {"distinctId", organizationId},
                     {"properties", std::move(properties)},
                     {"timestamp", isoTime(ctx.event.created)}};
  ctx.effects.push_back({.key = key,
                         .kind = EffectKind::Analytics,
                         .payload = payload.dump(),
                         .organizationId = organizationId,
                         .sourceEventId = ctx.event.id});
}

json planOf(const SubscriptionObject& s) {
  return {{"subscriptionId", s.id},
          {"priceId", s.priceId},
          {"productId", s.productId},
          {"quantity", s.quantity ? json(*s.quantity) : json()},
          {"status", s.status}};
}

// previous_attributes names the price or quantity, and they differ now.
bool planChanged(const json& previous, const SubscriptionObject& now) {
  if (!previous.is_object()) return false;
  if (!previous.contains("items") && !previous.contains("plan") && !previous.contains("quantity")) {
    return false;
  }
  const auto before = readSubscription([&] {
    // Overlay the previous attributes on the current object's identity.
    json old = {{"id", now.id}, {"customer", now.customer}, {"status", now.status}};
    for (const auto& [k, v] : previous.items()) old[k] = v;
    return old;
  }());
  const bool priceKnown = !before.priceId.empty();
  return (priceKnown && before.priceId != now.priceId) ||
         (before.quantity && before.quantity != now.quantity);
}

}  // namespace

std::string isoTime(std::int64_t unixSeconds) {
  const std::time_t t = static_cast<std::time_t>(unixSeconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void enqueueSubscriptionEffects(HandlerContext& ctx, const SubscriptionObject& s,
                                const std::string& org) {
  const auto& type = ctx.event.type;
  const auto plan = planOf(s);
  if (type != "customer.subscription.deleted" && (s.status == "active" || s.status == "trialing")) {
    json data = plan;
    data["currentPeriodEnd"] = timeOrNull(s.currentPeriodEnd);
    data["trialEnd"] = timeOrNull(s.trialEnd);
    email(ctx, "email:subscription_started:" + s.id, org, "subscription_started", data, "");
    analytics(ctx, "analytics:subscription_started:" + s.id, org, "subscription_started", plan);
  }
  if (type == "customer.subscription.deleted") {
    json data = plan;
    data["canceledAt"] = timeOrNull(s.canceledAt);
    data["endedAt"] = timeOrNull(s.endedAt);
    email(ctx, "email:subscription_canceled:" + s.id, org, "subscription_canceled", data, "");
    analytics(ctx, "analytics:subscription_canceled:" + s.id, org, "subscription_canceled", plan);
  }
  if (type == "customer.subscription.trial_will_end" && s.trialEnd) {
    json data = plan;
    data["trialEnd"] = isoTime(*s.trialEnd);
    email(ctx, "email:trial_will_end:" + s.id + ":" + std::to_string(*s.trialEnd), org,
          "trial_will_end", data, "");
  }
  if (type == "customer.subscription.updated" && planChanged(ctx.previousAttributes, s)) {
    analytics(ctx, "analytics:plan_changed:" + s.id + ":" + ctx.event.id, org, "plan_changed",
              plan);
  }
}

void enqueueInvoiceEffects(HandlerContext& ctx, const InvoiceObject& invoice,
                           const std::string& org) {
  const json properties{{"invoiceId", invoice.id},        {"subscriptionId", invoice.subscription},
                        {"amountDue", invoice.amountDue}, {"amountPaid", invoice.amountPaid},
                        {"currency", invoice.currency},   {"attemptCount", invoice.attemptCount}};
  if (ctx.event.type == "invoice.payment_failed") {
    const auto attempt = std::to_string(invoice.attemptCount);
    email(ctx, "email:payment_failed:" + invoice.id + ":" + attempt, org, "payment_failed",
          properties, invoice.customerEmail);
    analytics(ctx, "analytics:payment_failed:" + invoice.id + ":" + attempt, org, "payment_failed",
              properties);
  } else {
    // invoice.paid and invoice.payment_succeeded describe one payment: one key.
    analytics(ctx, "analytics:invoice_paid:" + invoice.id, org, "invoice_paid",
              {{"invoiceId", invoice.id},
               {"subscriptionId", invoice.subscription},
               {"amount", invoice.amountPaid},
               {"currency", invoice.currency}});
  }
}

}  // namespace effectd::handlers
