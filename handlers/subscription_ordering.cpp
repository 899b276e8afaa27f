#include "handlers/subscription_ordering.hpp"

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
      return "older than the row";
    case OrderingDecision::CanceledIsFinal:
      return "subscription already ended";
    case OrderingDecision::OtherSubscription:
      return "another subscription holds the row";
  }
  return "unknown";
}

OrderingDecision decideOrdering(const MirroredState& row, const IncomingState& event) {
  if (row.subscriptionId.empty() || !row.eventAt) return OrderingDecision::Apply;
  if (row.eventId == event.eventId) return OrderingDecision::AlreadyApplied;

  // Newer event first; on a one-second tie the later lifecycle state; on a
  // full tie the event id, which is arbitrary but the same in every order.
  const auto newer = std::make_tuple(event.eventAt, lifecycleRank(event.status), event.eventId) >
                     std::make_tuple(*row.eventAt, lifecycleRank(row.status), row.eventId);
  const bool rowEnded = isTerminal(row.status);
  const bool eventEnded = isTerminal(event.status);

  if (row.subscriptionId == event.subscriptionId) {
    // An ended subscription stays ended: Stripe never revives one, so a live
    // state is older news whatever its timestamp, and the end always applies.
    if (rowEnded && !eventEnded) return OrderingDecision::CanceledIsFinal;
    if (!rowEnded && eventEnded) return OrderingDecision::Apply;
    return newer ? OrderingDecision::Apply : OrderingDecision::Stale;
  }
  // Another subscription of the same organization: it replaces the row only
  // with a newer event, and never ends a live subscription it is not.
  if (!rowEnded && eventEnded) return OrderingDecision::OtherSubscription;
  return newer ? OrderingDecision::Apply : OrderingDecision::OtherSubscription;
}

}  // namespace effectd::handlers
