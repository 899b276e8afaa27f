// customer.subscription.created|updated|deleted|paused|resumed|trial_will_end:
// mirror the subscription into its organization's row, guarded by the
// ordering rules, and enqueue the effects the event causes.
#include <nlohmann/json.hpp>
#include <optional>
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

// Locks the organization's row when it exists: the usual case, in one
// statement. An existing row also proves the organization exists (foreign key).
std::optional<MirroredState> lockExistingRow(pqxx::transaction_base& tx, const std::string& org) {
  const auto rows = sql::execPrepared(tx, "subscription_lock_row",
                                      R"(SELECT COALESCE("stripeSubscriptionId", ''), "status",
                extract(epoch FROM "stripeEventAt")::bigint, COALESCE("stripeEventId", '')
         FROM "Subscription" WHERE "organizationId" = $1 FOR UPDATE)",
                                      org);
  if (rows.empty()) return std::nullopt;
  const auto row = rows[0];
  MirroredState state{row[0].as<std::string>(), row[1].as<std::string>(), std::nullopt,
                      row[3].as<std::string>()};
  if (!row[2].is_null()) state.eventAt = row[2].as<std::int64_t>();
  return state;
}

// Locks the organization's row, creating it linked to the customer first if
// absent, so that concurrent events for one organization apply one after the
// other. Two first events race on the unique index: the second waits for the
// first to commit, inserts nothing, and then locks the row the first made.
MirroredState lockRow(pqxx::transaction_base& tx, const std::string& org,
                      const SubscriptionObject& s) {
  if (auto state = lockExistingRow(tx, org)) return *state;
  sql::execPrepared(
      tx, "subscription_ensure_row",
      R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "livemode",
             "createdAt", "updatedAt")
         VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
         ON CONFLICT ("organizationId") DO NOTHING)",
      sql::newUuidV7(), org, s.customer, s.livemode);
  return lockExistingRow(tx, org).value();
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
  // With metadata.organizationId and a row already there (the usual case),
  // one statement resolves the organization and locks its row.
  std::string org = subscription.metadataOrganizationId;
  auto existing = org.empty() ? std::nullopt : lockExistingRow(ctx.tx, org);
  if (!existing) {
    org = resolveOrganization(ctx.tx, subscription.metadataOrganizationId, subscription.customer);
  }
  const auto row = existing ? *existing : lockRow(ctx.tx, org, subscription);
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
