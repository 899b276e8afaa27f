// Reading back what the billing handlers wrote, as a test compares it: the
// Subscription row without its bookkeeping columns, and the effect keys.
#pragma once

#include <map>
#include <set>
#include <string>

namespace pqxx {
class connection_base;
}

namespace effectd::testing {

// Every column of the organization's Subscription row as text ("" for NULL),
// except id, createdAt and updatedAt. Empty when there is no row.
std::map<std::string, std::string> subscriptionRow(pqxx::connection_base& conn,
                                                   const std::string& organizationId);
std::set<std::string> effectKeys(pqxx::connection_base& conn);
// Seeds an organization with one member of the given role.
void seedOrganization(pqxx::connection_base& conn, const std::string& organizationId,
                      const std::string& email, const std::string& role = "owner");

}  // namespace effectd::testing
