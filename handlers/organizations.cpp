#include "handlers/organizations.hpp"

#include "handlers/handler.hpp"

namespace effectd::handlers {

std::string resolveOrganization(const BillingState& state, const std::string& metadataOrgId,
                                const std::string& customerId) {
  if (!metadataOrgId.empty()) {
    if (!state.organizationExists(metadataOrgId)) {
      throw RetryLater("organization " + metadataOrgId + " does not exist");
    }
    return metadataOrgId;
  }
  if (auto linked = state.organizationOf(customerId)) return *linked;
  throw RetryLater("no organization is linked to customer " + customerId +
                   " yet (waiting for checkout.session.completed)");
}

void refuseTestModeOnLiveRow(const SubscriptionRow* row, const EventEnvelope& event) {
  if (!row || !row->livemode || event.livemode) return;
  throw NeedsOperator("a test-mode event does not change organization " + row->organizationId +
                      ", whose subscription is live");
}

}  // namespace effectd::handlers
