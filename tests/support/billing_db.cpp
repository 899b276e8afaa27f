#include "tests/support/billing_db.hpp"

#include <pqxx/pqxx>

namespace effectd::testing {

std::map<std::string, std::string> subscriptionRow(pqxx::connection_base& conn,
                                                   const std::string& organizationId) {
  pqxx::read_transaction tx(conn);
  const auto r =
      tx.exec_params(R"(SELECT * FROM "Subscription" WHERE "organizationId" = $1)", organizationId);
  std::map<std::string, std::string> out;
  if (r.empty()) return out;
  for (const auto& field : r[0]) {
    const std::string name = field.name();
    if (name == "id" || name == "createdAt" || name == "updatedAt") continue;
    out[name] = field.is_null() ? "" : field.as<std::string>();
  }
  return out;
}

std::set<std::string> effectKeys(pqxx::connection_base& conn) {
  pqxx::read_transaction tx(conn);
  std::set<std::string> out;
  for (const auto& row : tx.exec(R"(SELECT "key" FROM "OutboundEffect")")) {
    out.insert(row[0].as<std::string>());
  }
  return out;
}

void seedOrganization(pqxx::connection_base& conn, const std::string& org, const std::string& email,
                      const std::string& role) {
  pqxx::work tx(conn);
  tx.exec_params(
      R"(INSERT INTO "Organization" ("id", "name", "slug", "createdAt")
         VALUES ($1, $1 || ' Inc.', $1, now()) ON CONFLICT DO NOTHING)",
      org);
  tx.exec_params(
      R"(INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
         VALUES ('user_' || $1, 'User', $1, true, now(), now()))",
      email);
  tx.exec_params(
      R"(INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
         VALUES ('member_' || $2, $1, 'user_' || $2, $3, now()))",
      org, email, role);
  tx.commit();
}

}  // namespace effectd::testing
