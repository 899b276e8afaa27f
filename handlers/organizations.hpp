// Which organization an event belongs to, and who there receives email.
#pragma once

#include <string>
#include <vector>

namespace pqxx {
class transaction_base;
}

namespace effectd::handlers {

// metadata.organizationId when given (it must exist), else the organization
// already linked to the Stripe customer. Throws RetryLater when neither
// resolves: the linking checkout session may still be on its way.
std::string resolveOrganization(pqxx::transaction_base& tx, const std::string& metadataOrgId,
                                const std::string& customerId);

struct Recipients {
  std::string organizationName;
  std::vector<std::string> emails;
};

// Members with role owner, else admin; else `fallbackEmail` (the Stripe
// customer's) when there is one.
Recipients emailRecipients(pqxx::transaction_base& tx, const std::string& organizationId,
                           const std::string& fallbackEmail);

}  // namespace effectd::handlers
