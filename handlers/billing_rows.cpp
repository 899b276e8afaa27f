#include "handlers/billing_rows.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "handlers/event_status.hpp"
#include "sql/ids.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {
namespace {

using nlohmann::json;

json array(const std::set<std::string>& values) {
  return json(std::vector<std::string>(values.begin(), values.end()));
}

json orNull(const Timestamp& t) {
  return t ? json(*t) : json();
}

std::string dump(const json& rows) {
  return rows.dump(-1, ' ', false, json::error_handler_t::replace);
}

Timestamp timeOf(const json& entry, const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

std::string textOf(const json& entry, const char* name) {
  const auto it = entry.find(name);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One subscription's state as "stripeSubscriptions" keeps it, and as
// billing_write_subscriptions reads the shown one: the same names, so that
// migration 0004 can build it from the row's columns.
json toJson(const SubscriptionState& state) {
  const auto& s = state.object;
  return {{"subscription", s.id},
          {"customer", s.customer},
          {"price", s.priceId},
          {"product", s.productId},
          {"status", s.status},
          {"quantity", s.quantity ? json(*s.quantity) : json()},
          {"created", s.created},
          {"periodStart", orNull(s.currentPeriodStart)},
          {"periodEnd", orNull(s.currentPeriodEnd)},
          {"cancelAt", orNull(s.cancelAt)},
          {"cancelAtPeriodEnd", s.cancelAtPeriodEnd},
          {"canceledAt", orNull(s.canceledAt)},
          {"endedAt", orNull(s.endedAt)},
          {"trialStart", orNull(s.trialStart)},
          {"trialEnd", orNull(s.trialEnd)},
          {"livemode", s.livemode},
          {"eventAt", state.eventAt},
          {"eventId", state.eventId}};
}

SubscriptionState fromJson(const json& e) {
  SubscriptionState state;
  auto& s = state.object;
  s.id = textOf(e, "subscription");
  s.customer = textOf(e, "customer");
  s.priceId = textOf(e, "price");
  s.productId = textOf(e, "product");
  s.status = textOf(e, "status");
  if (const auto q = timeOf(e, "quantity")) s.quantity = *q;
  s.created = timeOf(e, "created").value_or(0);
  s.currentPeriodStart = timeOf(e, "periodStart");
  s.currentPeriodEnd = timeOf(e, "periodEnd");
  s.cancelAt = timeOf(e, "cancelAt");
  s.cancelAtPeriodEnd = e.value("cancelAtPeriodEnd", false);
  s.canceledAt = timeOf(e, "canceledAt");
  s.endedAt = timeOf(e, "endedAt");
  s.trialStart = timeOf(e, "trialStart");
  s.trialEnd = timeOf(e, "trialEnd");
  s.livemode = e.value("livemode", false);
  state.eventAt = timeOf(e, "eventAt").value_or(0);
  state.eventId = textOf(e, "eventId");
  return state;
}

OrganizationSubscriptions readSubscriptions(const std::string& stored) {
  const auto list = json::parse(stored, nullptr, false);
  std::vector<SubscriptionState> states;
  if (list.is_array()) {
    for (const auto& e : list) {
      if (e.is_object() && !textOf(e, "subscription").empty()) states.push_back(fromJson(e));
    }
  }
  return OrganizationSubscriptions(std::move(states));
}

}  // namespace

// The reads below probe a unique index once per wanted row, through a
// LATERAL subquery with LIMIT that the planner cannot turn into a join.
// PostgreSQL guesses 100 elements for a JSON array, so the plain
// `= ANY(...)` form scanned and hashed whole tables of a few thousand rows:
// four times slower for a batch of four organizations (pgbench, same run).
std::vector<SubscriptionRow> lockRows(pqxx::transaction_base& tx,
                                      const std::set<std::string>& organizations,
                                      const std::set<std::string>& customers) {
  std::vector<SubscriptionRow> out;
  if (organizations.empty() && customers.empty()) return out;
  // Found first, in organization order, then locked one by one in that
  // order (a subquery with FOR UPDATE is never merged into a join); the lock
  // checks again that the row, as it is once locked, is still one of them.
  const auto rows = sql::execPrepared(tx, "billing_lock_rows",
                                      R"(SELECT s.* FROM (
           SELECT f."id", f."organizationId"
           FROM jsonb_array_elements_text($1::jsonb) AS wanted(v)
           CROSS JOIN LATERAL (SELECT "id", "organizationId" FROM "Subscription"
                               WHERE "organizationId" = wanted.v LIMIT 1) f
           UNION
           SELECT f."id", f."organizationId"
           FROM jsonb_array_elements_text($2::jsonb) AS wanted(v)
           CROSS JOIN LATERAL (SELECT "id", "organizationId" FROM "Subscription"
                               WHERE "stripeCustomerId" = wanted.v LIMIT 1) f
           ORDER BY 2) found
         CROSS JOIN LATERAL (
           SELECT "organizationId", "stripeCustomerId", "stripeSubscriptions"::text,
                  extract(epoch FROM "stripeLinkedAt")::bigint, "livemode",
                  -- The shown subscription as the columns hold it, in the list's form.
                  CASE WHEN "stripeSubscriptionId" IS NOT NULL THEN jsonb_build_object(
                    'subscription', "stripeSubscriptionId", 'customer', "stripeCustomerId",
                    'price', COALESCE("stripePriceId", ''), 'product', COALESCE("stripeProductId", ''),
                    'status', "status", 'quantity', "quantity",
                    'created', COALESCE(extract(epoch FROM "stripeSubscriptionCreatedAt")::bigint, 0),
                    'periodStart', extract(epoch FROM "currentPeriodStart")::bigint,
                    'periodEnd', extract(epoch FROM "currentPeriodEnd")::bigint,
                    'cancelAt', extract(epoch FROM "cancelAt")::bigint,
                    'cancelAtPeriodEnd', "cancelAtPeriodEnd",
                    'canceledAt', extract(epoch FROM "canceledAt")::bigint,
                    'endedAt', extract(epoch FROM "endedAt")::bigint,
                    'trialStart', extract(epoch FROM "trialStart")::bigint,
                    'trialEnd', extract(epoch FROM "trialEnd")::bigint,
                    'livemode', "livemode",
                    'eventAt', COALESCE(extract(epoch FROM "stripeEventAt")::bigint, 0),
                    'eventId', COALESCE("stripeEventId", ''))::text END
           FROM "Subscription"
           WHERE "id" = found."id"
             AND ("organizationId" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))
                  OR "stripeCustomerId" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb))))
           FOR UPDATE) s)",
                                      dump(array(organizations)), dump(array(customers)));
  out.reserve(rows.size());
  for (const auto& r : rows) {
    SubscriptionRow row;
    row.organizationId = r[0].as<std::string>();
    row.customer = r[1].as<std::string>();
    row.subscriptions = readSubscriptions(r[2].as<std::string>());
    // A row written before migration 0004, or by an older build since, lists
    // nothing or an older state of the subscription its columns show: the
    // columns' state joins the list under the same ordering rules (a no-op
    // when the list has it already).
    if (!r[5].is_null()) {
      const auto columns = fromJson(json::parse(r[5].as<std::string>()));
      if (row.subscriptions.record(columns) == OrderingDecision::Apply) {
        row.subscriptionsChanged = true;
      }
    }
    if (!r[3].is_null()) row.linkedAt = r[3].as<std::int64_t>();
    row.livemode = r[4].as<bool>();
    out.push_back(std::move(row));
  }
  return out;
}

std::set<std::string> insertRows(pqxx::transaction_base& tx, const BillingState& state) {
  json rows = json::array();
  for (const auto& [org, row] : state.rows()) {
    if (row.stored) continue;
    rows.push_back({{"id", sql::newUuidV7()},
                    {"org", org},
                    {"customer", row.customer},
                    {"linkedAt", row.linkedAt ? json(*row.linkedAt) : json()},
                    {"livemode", row.livemode}});
  }
  std::set<std::string> inserted;
  if (rows.empty()) return inserted;
  const auto result = sql::execPrepared(tx, "billing_insert_rows",
                                        R"(INSERT INTO "Subscription" ("id", "organizationId",
             "stripeCustomerId", "stripeLinkedAt", "livemode", "createdAt", "updatedAt")
         SELECT v."id", v."org", v."customer", to_timestamp(v."linkedAt") AT TIME ZONE 'UTC',
                v."livemode", now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS v("id" text, "org" text, "customer" text,
                                                  "linkedAt" bigint, "livemode" boolean)
         ORDER BY v."org"
         ON CONFLICT ("organizationId") DO NOTHING
         RETURNING "organizationId")",
                                        dump(rows));
  for (const auto& r : result) inserted.insert(r[0].as<std::string>());
  return inserted;
}

void loadOrganizations(pqxx::transaction_base& tx, const std::set<std::string>& organizations,
                       BillingState& state) {
  if (organizations.empty()) return;
  // Members with role owner, else admin. Better Auth may store several roles
  // comma-separated ("owner,admin").
  const auto rows = sql::execPrepared(tx, "billing_organizations",
                                      R"(SELECT o."id", o."name", r."email", r.rank
         FROM jsonb_array_elements_text($1::jsonb) AS wanted(v)
         CROSS JOIN LATERAL (SELECT "id", "name" FROM "Organization"
                             WHERE "id" = wanted.v LIMIT 1) o
         LEFT JOIN LATERAL (
           SELECT u."email",
                  CASE WHEN 'owner' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 0
                       WHEN 'admin' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 1
                  END AS rank
           FROM "Member" m LEFT JOIN "User" u ON u."id" = m."userId"
           WHERE m."organizationId" = o."id" OFFSET 0) r ON true
         ORDER BY o."id", r.rank NULLS LAST, r."email")",
                                      dump(array(organizations)));
  std::string current;
  Recipients recipients;
  int bestRank = -1;
  const auto flush = [&] {
    if (!current.empty()) state.addOrganization(current, std::move(recipients));
    recipients = {};
  };
  for (const auto& r : rows) {
    const auto id = r[0].as<std::string>();
    const int rank = r[3].is_null() ? -1 : r[3].as<int>();
    if (id != current) {
      flush();
      current = id;
      recipients.organizationName = r[1].as<std::string>();
      bestRank = rank;  // the rows of an organization come best first
    }
    if (rank >= 0 && rank == bestRank && !r[2].is_null()) {
      recipients.emails.push_back(r[2].as<std::string>());
    }
  }
  flush();
}

void writeRows(pqxx::transaction_base& tx, const BillingState& state) {
  json links = json::array();
  json applied = json::array();
  json cleared = json::array();  // linked to a customer whose subscriptions are not known yet
  for (const auto& [org, row] : state.rows()) {
    const json linkedAt = row.linkedAt ? json(*row.linkedAt) : json();
    if (!row.subscriptionsChanged) {
      if (row.relinked) {
        links.push_back({{"org", org},
                         {"customer", row.customer},
                         {"linkedAt", linkedAt},
                         {"livemode", row.livemode}});
      }
      continue;
    }
    json list = json::array();
    for (const auto& known : row.subscriptions.states()) list.push_back(toJson(known));
    if (!row.subscriptions.shown()) {
      cleared.push_back({{"org", org},
                         {"customer", row.customer},
                         {"linkedAt", linkedAt},
                         {"livemode", row.livemode}});
      continue;
    }
    auto shown = toJson(*row.subscriptions.shown());
    shown["org"] = org;
    shown["customer"] = row.customer;
    shown["linkedAt"] = linkedAt;
    shown["subscriptions"] = std::move(list);
    applied.push_back(std::move(shown));
  }
  // Both probe the primary key, spelled out so the planner does not hash
  // the whole table against the batch.
  if (!links.empty()) {
    sql::execPrepared(tx, "billing_write_links",
                      R"(UPDATE "Subscription" s
         SET "stripeCustomerId" = v."customer",
             "stripeLinkedAt" = to_timestamp(v."linkedAt") AT TIME ZONE 'UTC',
             "livemode" = v."livemode", "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS v("org" text, "customer" text, "linkedAt" bigint,
                                                  "livemode" boolean)
         WHERE s."organizationId" = v."org"
           AND s."organizationId" = ANY(ARRAY(SELECT r->>'org' FROM jsonb_array_elements($1::jsonb) r)))",
                      dump(links));
  }
  if (!cleared.empty()) {
    sql::execPrepared(tx, "billing_clear_subscriptions",
                      R"(UPDATE "Subscription" s SET
           "stripeCustomerId" = v."customer",
           "stripeLinkedAt" = to_timestamp(v."linkedAt") AT TIME ZONE 'UTC',
           "livemode" = v."livemode",
           "stripeSubscriptionId" = NULL, "stripeSubscriptionCreatedAt" = NULL,
           "stripePriceId" = NULL, "stripeProductId" = NULL, "status" = 'incomplete',
           "quantity" = NULL, "currentPeriodStart" = NULL, "currentPeriodEnd" = NULL,
           "cancelAt" = NULL, "cancelAtPeriodEnd" = false, "canceledAt" = NULL, "endedAt" = NULL,
           "trialStart" = NULL, "trialEnd" = NULL, "stripeEventAt" = NULL, "stripeEventId" = NULL,
           "stripeSubscriptions" = '[]', "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS v("org" text, "customer" text, "linkedAt" bigint,
                                                  "livemode" boolean)
         WHERE s."organizationId" = v."org"
           AND s."organizationId" = ANY(ARRAY(SELECT r->>'org' FROM jsonb_array_elements($1::jsonb) r)))",
                      dump(cleared));
  }
  if (applied.empty()) return;
  sql::execPrepared(tx, "billing_write_subscriptions",
                    R"(UPDATE "Subscription" s SET
           "stripeCustomerId" = v."customer",
           "stripeLinkedAt" = to_timestamp(v."linkedAt") AT TIME ZONE 'UTC',
           "stripeSubscriptionId" = v."subscription",
           "stripeSubscriptionCreatedAt" = to_timestamp(v."created") AT TIME ZONE 'UTC',
           "stripePriceId" = NULLIF(v."price", ''), "stripeProductId" = NULLIF(v."product", ''),
           "status" = v."status", "quantity" = v."quantity",
           "currentPeriodStart" = to_timestamp(v."periodStart") AT TIME ZONE 'UTC',
           "currentPeriodEnd" = to_timestamp(v."periodEnd") AT TIME ZONE 'UTC',
           "cancelAt" = to_timestamp(v."cancelAt") AT TIME ZONE 'UTC',
           "cancelAtPeriodEnd" = v."cancelAtPeriodEnd",
           "canceledAt" = to_timestamp(v."canceledAt") AT TIME ZONE 'UTC',
           "endedAt" = to_timestamp(v."endedAt") AT TIME ZONE 'UTC',
           "trialStart" = to_timestamp(v."trialStart") AT TIME ZONE 'UTC',
           "trialEnd" = to_timestamp(v."trialEnd") AT TIME ZONE 'UTC',
           "livemode" = v."livemode",
           "stripeEventAt" = to_timestamp(v."eventAt") AT TIME ZONE 'UTC',
           "stripeEventId" = v."eventId",
           "stripeSubscriptions" = v."subscriptions",
           "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS v("org" text, "customer" text,
              "linkedAt" bigint, "subscriptions" jsonb, "created" bigint, "subscription" text, "price" text, "product" text, "status" text,
              "quantity" integer, "periodStart" bigint, "periodEnd" bigint, "cancelAt" bigint,
              "cancelAtPeriodEnd" boolean, "canceledAt" bigint, "endedAt" bigint,
              "trialStart" bigint, "trialEnd" bigint, "livemode" boolean, "eventAt" bigint,
              "eventId" text)
         WHERE s."organizationId" = v."org"
           AND s."organizationId" = ANY(ARRAY(SELECT r->>'org' FROM jsonb_array_elements($1::jsonb) r)))",
                    dump(applied));
}

void wakeWaitingEvents(pqxx::transaction_base& tx, const std::vector<std::string>& customers) {
  if (customers.empty()) return;
  static const auto kWake =
      eventSql(R"(UPDATE "StripeWebhookEvent" SET "nextAttemptAt" = now() AT TIME ZONE 'UTC'
         WHERE "status" = {{failed}} AND "nextAttemptAt" IS NOT NULL
           AND "payload" #>> '{data,object,customer}'
               = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))))");
  sql::execPrepared(tx, "billing_wake_waiting", kWake, dump(json(customers)));
}

}  // namespace effectd::handlers
