// Which organization an event belongs to.
#pragma once

#include <string>

#include "handlers/billing_state.hpp"

namespace effectd::handlers {

// metadata.organizationId when given (it must exist), else the organization
// already linked to the Stripe customer. Throws RetryLater when neither
// resolves: the linking checkout session may still be on its way.
std::string resolveOrganization(const BillingState& state, const std::string& metadataOrgId,
                                const std::string& customerId);

}  // namespace effectd::handlers
