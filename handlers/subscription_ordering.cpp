#include "handlers/subscription_ordering.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace effectd::handlers {

int lifecycleRank(std::string_view status) {
  if (status == "incomplete") return 0;
  if (isTerminal(status)) return 2;
  return 1;  // trialing, active, past_due, unpaid, paused, and any status Stripe adds
}

bool isTerminal(std::string_view status) {
  return status == "canceled" || status == "incomplete_expired";
}

std::string_view describe(OrderingDecision decision) {
  switch (decision) {
    case OrderingDecision::Apply:
      return "applied";
    case OrderingDecision::AlreadyApplied:
      return "already applied";
    case OrderingDecision::Stale:
      return "older than what is known of the subscription";
    case OrderingDecision::CanceledIsFinal:
      return "subscription already ended";
  }
  return "unknown";
}

OrderingDecision decideOrdering(const SubscriptionState& held, const SubscriptionState& incoming) {
  if (held.eventId == incoming.eventId) return OrderingDecision::AlreadyApplied;
  const auto& h = held.object.status;
  const auto& i = incoming.object.status;
  // An ended subscription stays ended: Stripe never revives one, so a live
  // state is older news whatever its timestamp, and the end always applies.
  if (isTerminal(h) && !isTerminal(i)) return OrderingDecision::CanceledIsFinal;
  if (!isTerminal(h) && isTerminal(i)) return OrderingDecision::Apply;
  // Newer event first; on a one-second tie the later lifecycle state; on a
  // full tie the event id, which is arbitrary but the same in every order.
  const auto newer = std::make_tuple(incoming.eventAt, lifecycleRank(i), incoming.eventId) >
                     std::make_tuple(held.eventAt, lifecycleRank(h), held.eventId);
  return newer ? OrderingDecision::Apply : OrderingDecision::Stale;
}

bool showsBefore(const SubscriptionState& a, const SubscriptionState& b) {
  const auto rank = [](const SubscriptionState& s) {
    // Live, then incomplete (its first payment has not gone through), then ended.
    const auto& status = s.object.status;
    const int tier = isTerminal(status) ? 0 : status == "incomplete" ? 1 : 2;
    // A creation time not known (0: a row written before migration 0004
    // whose event was gone) counts as the newest: that row showed it.
    const auto created =
        s.object.created > 0 ? s.object.created : std::numeric_limits<std::int64_t>::max();
    return std::make_tuple(tier, created, s.object.id);
  };
  return rank(a) > rank(b);
}

OrganizationSubscriptions::OrganizationSubscriptions(std::vector<SubscriptionState> states)
    : states_(std::move(states)) {
  std::sort(states_.begin(), states_.end(), showsBefore);
}

OrderingDecision OrganizationSubscriptions::record(const SubscriptionState& incoming) {
  const auto it = std::find_if(states_.begin(), states_.end(), [&](const SubscriptionState& s) {
    return s.object.id == incoming.object.id;
  });
  if (it != states_.end()) {
    const auto decision = decideOrdering(*it, incoming);
    if (decision != OrderingDecision::Apply) return decision;
    *it = incoming;
  } else {
    states_.push_back(incoming);
  }
  std::sort(states_.begin(), states_.end(), showsBefore);
  // The last ranked are ended ones whenever any is; a live one is dropped
  // only when seventeen are live at once.
  if (states_.size() > kMaxKept) states_.resize(kMaxKept);
  return OrderingDecision::Apply;
}

bool OrganizationSubscriptions::keepOnlyCustomer(const std::string& customer) {
  return std::erase_if(states_, [&](const SubscriptionState& s) {
           return s.object.customer != customer;
         }) > 0;
}

const SubscriptionState* OrganizationSubscriptions::shown() const {
  return states_.empty() ? nullptr : &states_.front();
}

}  // namespace effectd::handlers
