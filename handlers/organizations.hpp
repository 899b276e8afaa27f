// Which organization an event belongs to.
#pragma once

#include <string>

#include "handlers/billing_state.hpp"
#include "handlers/stripe_event.hpp"

namespace effectd::handlers {

// metadata.organizationId when given (it must exist), else the organization
// already linked to the Stripe customer. Throws RetryLater when neither
// resolves: the linking checkout session may still be on its way.
std::string resolveOrganization(const BillingState& state, const std::string& metadataOrgId,
                                const std::string& customerId);

// A test-mode event never changes, nor mails about, an organization whose
// row is live (a developer's `stripe trigger` against production's
// database). Throws NeedsOperator saying so. A live event on a test-mode row is
// the organization going live: it applies.
void refuseTestModeOnLiveRow(const SubscriptionRow* row, const EventEnvelope& event);

}  // namespace effectd::handlers
