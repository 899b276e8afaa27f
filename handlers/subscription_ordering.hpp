// The ordering guard: which state of which subscription an organization's
// Subscription row shows. Stripe delivers out of order, retries late, and
// `created` has one-second resolution; and an organization can have several
// subscriptions over time (a plan switch by a new subscription cancels the
// old one a second after the new one starts). The row's final state must be
// the same whatever order the events arrive in, duplicates included.
//
// Two rules, each a maximum, so that the result does not depend on order:
// - within one subscription, the newest state wins (decideOrdering), and an
//   ended subscription stays ended;
// - between the organization's subscriptions, each in its newest state, the
//   row shows the one that ranks first (showsBefore): a live one before an
//   ended one, then the one created later.
// The second needs every subscription's newest state, not only the shown
// one's, so the row keeps them (OrganizationSubscriptions, the column
// "stripeSubscriptions").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/stripe_objects.hpp"

namespace effectd::handlers {

// incomplete < trialing/active/past_due/unpaid/paused < canceled/incomplete_expired
int lifecycleRank(std::string_view status);
bool isTerminal(std::string_view status);  // canceled, incomplete_expired

// A subscription as one event showed it.
struct SubscriptionState {
  SubscriptionObject object;
  std::int64_t eventAt = 0;  // the event's `created`
  std::string eventId;
};

enum class OrderingDecision {
  Apply,
  AlreadyApplied,   // this very event gave the subscription its state
  Stale,            // an older state of the subscription
  CanceledIsFinal,  // a live state of a subscription already ended
};

std::string_view describe(OrderingDecision decision);

// Two states of one subscription: whether `incoming` replaces `held`.
OrderingDecision decideOrdering(const SubscriptionState& held, const SubscriptionState& incoming);

// Two different subscriptions of one organization, each in its newest state:
// whether the row shows `a` rather than `b`. Live before incomplete (a first
// payment not through yet) before ended, then the one created later, then
// the id: a total order, the same in every process.
bool showsBefore(const SubscriptionState& a, const SubscriptionState& b);

// Every subscription an organization's row has seen, each in its newest
// state, and the one the row shows.
class OrganizationSubscriptions {
 public:
  // Beyond this many, the ended subscriptions that rank last are forgotten:
  // a stale event of one of them could then show it again (an organization
  // with seventeen subscriptions, one of them replayed months late).
  static constexpr std::size_t kMaxKept = 16;

  OrganizationSubscriptions() = default;
  explicit OrganizationSubscriptions(std::vector<SubscriptionState> states);

  // Records an event's state of its subscription; Apply when it changed what
  // is known of that subscription (which may or may not change what is shown).
  OrderingDecision record(const SubscriptionState& incoming);

  const SubscriptionState* shown() const;  // null when none is known

  // Forgets the subscriptions of other customers (the organization's link
  // moved to this one); true when any was forgotten.
  bool keepOnlyCustomer(const std::string& customer);
  const std::vector<SubscriptionState>& states() const { return states_; }

 private:
  std::vector<SubscriptionState> states_;  // shown first, then by showsBefore
};

}  // namespace effectd::handlers
