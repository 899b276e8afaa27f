#include "sql/schema_check.hpp"

#include <map>
#include <pqxx/pqxx>
#include <set>

namespace effectd::sql {
namespace {
constexpr const char* kText = "text";
constexpr const char* kTime = "timestamp without time zone";
constexpr const char* kBool = "boolean";
constexpr const char* kInt = "integer";
constexpr const char* kJson = "jsonb";
}  // namespace

const std::vector<ExpectedTable>& expectedSchema() {
  // Identity tables belong to the app: only what effectd reads is required.
  static const std::vector<ExpectedTable> tables{
      {"Organization",
       {{"id", kText}, {"name", kText}, {"slug", kText}, {"createdAt", kTime}, {"metadata", kText}},
       {},
       {}},
      {"User",
       {{"id", kText},
        {"name", kText},
        {"email", kText},
        {"emailVerified", kBool},
        {"createdAt", kTime},
        {"updatedAt", kTime}},
       {},
       {}},
      {"Member",
       {{"id", kText},
        {"organizationId", kText},
        {"userId", kText},
        {"role", kText},
        {"createdAt", kTime}},
       {},
       {}},
      {"Subscription",
       {{"id", kText},
        {"organizationId", kText},
        {"stripeCustomerId", kText},
        {"stripeSubscriptionId", kText},
        {"stripePriceId", kText},
        {"stripeProductId", kText},
        {"status", kText},
        {"quantity", kInt},
        {"currentPeriodStart", kTime},
        {"currentPeriodEnd", kTime},
        {"cancelAt", kTime},
        {"cancelAtPeriodEnd", kBool},
        {"canceledAt", kTime},
        {"endedAt", kTime},
        {"trialStart", kTime},
        {"trialEnd", kTime},
        {"livemode", kBool},
        {"stripeEventAt", kTime},
        {"stripeEventId", kText},
        {"stripeSubscriptionCreatedAt", kTime},
        {"stripeSubscriptions", kJson},
        {"stripeLinkedAt", kTime},
        {"createdAt", kTime},
        {"updatedAt", kTime}},
       {"Subscription_pkey", "Subscription_organizationId_key", "Subscription_stripeCustomerId_key",
        "Subscription_stripeSubscriptionId_key"},
       {}},
      {"StripeWebhookEvent",
       {{"id", kText},
        {"type", kText},
        {"livemode", kBool},
        {"apiVersion", kText},
        {"account", kText},
        {"stripeCreatedAt", kTime},
        {"payload", kJson},
        {"status", kText},
        {"attempts", kInt},
        {"lastError", kText},
        {"nextAttemptAt", kTime},
        {"receivedAt", kTime},
        {"processedAt", kTime},
        {"signedPayload", kText}},
       {"StripeWebhookEvent_pkey", "StripeWebhookEvent_status_nextAttemptAt_idx",
        "StripeWebhookEvent_type_stripeCreatedAt_idx", "StripeWebhookEvent_receivedAt_idx"},
       {}},
      {"OutboundEffect",
       {{"id", kText},
        {"key", kText},
        {"kind", kText},
        {"payload", kJson},
        {"organizationId", kText},
        {"sourceEventId", kText},
        {"status", kText},
        {"attempts", kInt},
        {"maxAttempts", kInt},
        {"runAt", kTime},
        {"lockedBy", kText},
        {"lockedUntil", kTime},
        {"lockedIdempotent", kBool},
        {"lastProvider", kText},
        {"lastError", kText},
        {"providerMessageId", kText},
        {"sentAt", kTime},
        {"payloadPrunedAt", kTime},
        {"createdAt", kTime},
        {"updatedAt", kTime}},
       {"OutboundEffect_pkey", "OutboundEffect_key_key", "OutboundEffect_kind_runAt_pending_idx",
        "OutboundEffect_lockedUntil_running_idx", "OutboundEffect_status_updatedAt_idx",
        "OutboundEffect_sourceEventId_idx", "OutboundEffect_retention_idx"},
       {"OutboundEffect_notify_pending_insert", "OutboundEffect_notify_pending_update",
        "OutboundEffect_notify_transition_insert", "OutboundEffect_notify_transition_update",
        "OutboundEffect_keep_keys"}},
  };
  return tables;
}

std::vector<std::string> checkSchema(pqxx::connection_base& conn) {
  pqxx::read_transaction tx(conn);
  std::map<std::string, std::map<std::string, std::string>> columns;
  for (const auto& row :
       tx.exec("SELECT table_name, column_name, data_type FROM information_schema.columns"
               " WHERE table_schema = current_schema()")) {
    columns[row[0].as<std::string>()][row[1].as<std::string>()] = row[2].as<std::string>();
  }
  std::map<std::string, std::set<std::string>> indexes;
  for (const auto& row :
       tx.exec("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()")) {
    indexes[row[0].as<std::string>()].insert(row[1].as<std::string>());
  }
  std::map<std::string, std::set<std::string>> triggers;
  for (const auto& row :
       tx.exec("SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
               " WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
               " AND t.tgenabled <> 'D'")) {
    triggers[row[0].as<std::string>()].insert(row[1].as<std::string>());
  }

  std::vector<std::string> problems;
  auto quote = [](const std::string& s) { return "\"" + s + "\""; };
  for (const auto& table : expectedSchema()) {
    const std::string name = table.name;
    auto found = columns.find(name);
    if (found == columns.end()) {
      problems.push_back("missing table " + quote(name));
      continue;
    }
    for (const auto& column : table.columns) {
      auto it = found->second.find(column.name);
      if (it == found->second.end()) {
        problems.push_back("missing column " + quote(name) + "." + quote(column.name) + " (" +
                           column.type + ")");
      } else if (it->second != column.type) {
        problems.push_back("column " + quote(name) + "." + quote(column.name) + " is " +
                           it->second + ", expected " + column.type);
      }
    }
    for (const auto* index : table.indexes) {
      if (!indexes[name].count(index)) {
        problems.push_back("missing index " + quote(index) + " on " + quote(name));
      }
    }
    for (const auto* trigger : table.triggers) {
      if (!triggers[name].count(trigger)) {
        problems.push_back("missing or disabled trigger " + quote(trigger) + " on " + quote(name));
      }
    }
  }
  return problems;
}

}  // namespace effectd::sql
