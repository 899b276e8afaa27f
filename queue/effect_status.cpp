#include "queue/effect_status.hpp"

#include <stdexcept>
#include <string>

#include "sql/status_literals.hpp"

namespace effectd::queue {
namespace {

constexpr sql::StatusNames<EffectStatus, 6> kStatuses{
    "effect status", {"pending", "running", "sent", "dead", "cancelled", "unknown"}};

}  // namespace

std::string_view toString(EffectStatus status) {
  return kStatuses.name(status);
}

std::optional<EffectStatus> parseEffectStatus(std::string_view text) {
  return kStatuses.parse(text);
}

std::vector<std::string> effectStatusNames() {
  return {kStatuses.names.begin(), kStatuses.names.end()};
}

std::string effectSql(std::string_view text) {
  return kStatuses.sql(text);
}

EffectStatus atClaim(bool lastAttemptElsewhere) {
  return lastAttemptElsewhere ? EffectStatus::Unknown : EffectStatus::Running;
}

EffectStatus afterRelease() {
  return EffectStatus::Pending;
}

AfterAttempt afterAttempt(const DeliveryResult& result, int attempts, int maxAttempts,
                          const RetryPolicy& policy) {
  switch (result.outcome) {
    case DeliveryResult::Outcome::Sent:
      return {.status = EffectStatus::Sent};
    case DeliveryResult::Outcome::Dead:
      return {.status = EffectStatus::Dead};
    case DeliveryResult::Outcome::Unknown:
      return {.status = EffectStatus::Unknown};
    case DeliveryResult::Outcome::Refused:
      // Never dead however long the refusal lasts: due again when the
      // drainer's pause of the kind is over (retryAfter), or after the first
      // backoff step without one.
      return {.status = EffectStatus::Pending,
              .delay = result.retryAfter.value_or(policy.after(1)),
              .jitter = !result.retryAfter,
              .countsAttempt = false};
    case DeliveryResult::Outcome::Retry:
      if (attempts >= maxAttempts) return {.status = EffectStatus::Dead};
      if (result.retryAfter) return {.status = EffectStatus::Pending, .delay = *result.retryAfter};
      return {.status = EffectStatus::Pending, .delay = policy.after(attempts), .jitter = true};
  }
  throw std::logic_error("delivery outcome " + std::to_string(static_cast<int>(result.outcome)));
}

EffectStatus afterExpiredLease(bool holderDeduplicates) {
  return holderDeduplicates ? EffectStatus::Pending : EffectStatus::Unknown;
}

std::vector<EffectStatus> appliesTo(OperatorCommand command) {
  switch (command) {
    case OperatorCommand::Retry:
      return {EffectStatus::Dead, EffectStatus::Unknown, EffectStatus::Cancelled};
    case OperatorCommand::Cancel:
      return {EffectStatus::Pending, EffectStatus::Dead, EffectStatus::Unknown};
  }
  throw std::logic_error("operator command " + std::to_string(static_cast<int>(command)));
}

EffectStatus afterCommand(OperatorCommand command) {
  switch (command) {
    case OperatorCommand::Retry:
      return EffectStatus::Pending;
    case OperatorCommand::Cancel:
      return EffectStatus::Cancelled;
  }
  throw std::logic_error("operator command " + std::to_string(static_cast<int>(command)));
}

}  // namespace effectd::queue
