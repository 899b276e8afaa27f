// customer.subscription.created|updated|deleted|paused|resumed|trial_will_end:
// mirror the subscription into its organization's row, guarded by the
// ordering rules, and enqueue the effects the event causes.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "daemon/log.hpp"
#include "handlers/billing_effects.hpp"
#include "handlers/handler.hpp"
#include "handlers/organizations.hpp"
#include "handlers/subscription_ordering.hpp"
#include "sql/ids.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {
namespace {

std::string text(const Timestamp& t) {
  return t ? std::to_string(*t) : std::string();
}

// Locks the organization's row, creating it linked to the customer if absent,
// so that concurrent events for one organization apply one after the other.
MirroredState lockRow(pqxx::transaction_base& tx, const std::string& org,
                      const SubscriptionObject& s) {
  sql::execPrepared(
      tx, "subscription_ensure_row",
      R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "livemode",
             "createdAt", "updatedAt")
         VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
         ON CONFLICT ("organizationId") DO NOTHING)",
      sql::newUuidV7(), org, s.customer, s.livemode);
  const auto row = sql::execPrepared(tx, "subscription_lock_row",
                                     R"(SELECT COALESCE("stripeSubscriptionId", ''), "status",
                extract(epoch FROM "stripeEventAt")::bigint, COALESCE("stripeEventId", '')
         FROM "Subscription" WHERE "organizationId" = $1 FOR UPDATE)",
                                     org)[0];
  MirroredState state{row[0].as<std::string>(), row[1].as<std::string>(), std::nullopt,
                      row[3].as<std::string>()};
  if (!row[2].is_null()) state.eventAt = row[2].as<std::int64_t>();
  return state;
}

void apply(pqxx::transaction_base& tx, const std::string& org, const SubscriptionObject& s,
           const EventEnvelope& event) {
  sql::execPrepared(tx, "subscription_apply",
                    R"(UPDATE "Subscription" SET
           "stripeCustomerId" = $2, "stripeSubscriptionId" = $3,
           "stripePriceId" = NULLIF($4, ''), "stripeProductId" = NULLIF($5, ''),
           "status" = $6, "quantity" = NULLIF($7, '')::integer,
           "currentPeriodStart" = to_timestamp(NULLIF($8, '')::bigint) AT TIME ZONE 'UTC',
           "currentPeriodEnd" = to_timestamp(NULLIF($9, '')::bigint) AT TIME ZONE 'UTC',
           "cancelAt" = to_timestamp(NULLIF($10, '')::bigint) AT TIME ZONE 'UTC',
           "cancelAtPeriodEnd" = $11,
           "canceledAt" = to_timestamp(NULLIF($12, '')::bigint) AT TIME ZONE 'UTC',
           "endedAt" = to_timestamp(NULLIF($13, '')::bigint) AT TIME ZONE 'UTC',
           "trialStart" = to_timestamp(NULLIF($14, '')::bigint) AT TIME ZONE 'UTC',
           "trialEnd" = to_timestamp(NULLIF($15, '')::bigint) AT TIME ZONE 'UTC',
           "livemode" = $16,
           "stripeEventAt" = to_timestamp($17::bigint) AT TIME ZONE 'UTC',
           "stripeEventId" = $18,
           "updatedAt" = now() AT TIME ZONE 'UTC'
         WHERE "organizationId" = $1)",
                    org, s.customer, s.id, s.priceId, s.productId, s.status,
                    s.quantity ? std::to_string(*s.quantity) : std::string(),
                    text(s.currentPeriodStart), text(s.currentPeriodEnd), text(s.cancelAt),
                    s.cancelAtPeriodEnd, text(s.canceledAt), text(s.endedAt), text(s.trialStart),
                    text(s.trialEnd), s.livemode, event.created, event.id);
}

}  // namespace

HandlerResult handleSubscriptionEvent(HandlerContext& ctx) {
  const auto subscription = readSubscription(ctx.object);
  const auto org =
      resolveOrganization(ctx.tx, subscription.metadataOrganizationId, subscription.customer);
  const auto row = lockRow(ctx.tx, org, subscription);
  const auto decision =
      decideOrdering(row, {subscription.id, subscription.status, ctx.event.created, ctx.event.id});
  if (decision == OrderingDecision::Apply) {
    apply(ctx.tx, org, subscription, ctx.event);
  } else {
    log::debug(
        "subscription row kept",
        {{"event_id", ctx.event.id}, {"organization_id", org}, {"reason", describe(decision)}});
  }
  enqueueSubscriptionEffects(ctx, subscription, org);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
