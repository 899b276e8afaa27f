// The ordering guard: whether an event's subscription state may replace what
// the Subscription row holds. Stripe delivers out of order and `created` has
// one-second resolution; these rules make the row's final state the same
// whatever order the events arrive in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace effectd::handlers {

// incomplete < trialing/active/past_due/unpaid/paused < canceled/incomplete_expired
int lifecycleRank(std::string_view status);
bool isTerminal(std::string_view status);  // canceled, incomplete_expired

struct MirroredState {         // what the row holds
  std::string subscriptionId;  // empty: linked to a customer, no subscription yet
  std::string status;
  std::optional<std::int64_t> eventAt;  // stripeEventAt, unix seconds
  std::string eventId;
};

struct IncomingState {  // what the event carries
  std::string subscriptionId;
  std::string status;
  std::int64_t eventAt = 0;  // the event's `created`
  std::string eventId;
};

enum class OrderingDecision {
  Apply,
  AlreadyApplied,     // this very event made the row what it is
  Stale,              // an older state of the same subscription
  CanceledIsFinal,    // a live state for a subscription the row holds as ended
  OtherSubscription,  // another subscription's event that must not replace the row's
};

std::string_view describe(OrderingDecision decision);

OrderingDecision decideOrdering(const MirroredState& row, const IncomingState& event);

}  // namespace effectd::handlers
