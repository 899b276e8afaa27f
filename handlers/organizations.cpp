#include "handlers/organizations.hpp"

#include <pqxx/pqxx>

#include "handlers/handler.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {

std::string resolveOrganization(pqxx::transaction_base& tx, const std::string& metadataOrgId,
                                const std::string& customerId) {
  if (!metadataOrgId.empty()) {
    const auto found = sql::execPrepared(
        tx, "org_exists", R"(SELECT 1 FROM "Organization" WHERE "id" = $1)", metadataOrgId);
    if (found.empty()) throw RetryLater("organization " + metadataOrgId + " does not exist");
    return metadataOrgId;
  }
  const auto linked = sql::execPrepared(
      tx, "org_by_customer",
      R"(SELECT "organizationId" FROM "Subscription" WHERE "stripeCustomerId" = $1)", customerId);
  if (linked.empty()) {
    throw RetryLater("no organization is linked to customer " + customerId +
                     " yet (waiting for checkout.session.completed)");
  }
  return linked[0][0].as<std::string>();
}

Recipients emailRecipients(pqxx::transaction_base& tx, const std::string& organizationId,
                           const std::string& fallbackEmail) {
  Recipients out;
  // Better Auth may store several roles comma-separated ("owner,admin").
  const auto rows = sql::execPrepared(tx, "org_recipients",
                                      R"(SELECT o."name", u."email",
                CASE WHEN 'owner' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 0
                     WHEN 'admin' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 1
                END AS rank
         FROM "Organization" o
         LEFT JOIN "Member" m ON m."organizationId" = o."id"
         LEFT JOIN "User" u ON u."id" = m."userId"
         WHERE o."id" = $1
         ORDER BY rank NULLS LAST, u."email")",
                                      organizationId);
  if (rows.empty()) return out;
  out.organizationName = rows[0][0].as<std::string>();
  const auto bestRank = rows[0][2].is_null() ? -1 : rows[0][2].as<int>();
  for (const auto& row : rows) {
    if (bestRank < 0 || row[2].is_null() || row[2].as<int>() != bestRank) break;
    out.emails.push_back(row[1].as<std::string>());
  }
  if (out.emails.empty() && !fallbackEmail.empty()) out.emails.push_back(fallbackEmail);
  return out;
}

}  // namespace effectd::handlers
