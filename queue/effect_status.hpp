// The one owner of an OutboundEffect's lifecycle (DESIGN.md "Never sending
// twice"): its statuses, and every transition between them, decided here in
// pure functions. The SQL of effect_store and effect_admin writes what these
// decide; no other place spells a status or decides whether an effect may be
// sent again.
//
//   pending --claim--> running (or unknown: last tried through another provider)
//   running --attempt--> sent | pending (retry) | dead | unknown
//   running --credentials refused--> pending, the attempt not counted
//   running --given back unstarted--> pending
//   running --lease expired--> pending (provider deduplicates) | unknown
//   dead, unknown, cancelled --operator retry--> pending
//   pending, dead, unknown --operator cancel--> cancelled
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/backoff.hpp"
#include "queue/effect.hpp"

namespace effectd::queue {

enum class EffectStatus { Pending, Running, Sent, Dead, Cancelled, Unknown };

std::string_view toString(EffectStatus status);
std::optional<EffectStatus> parseEffectStatus(std::string_view text);
std::vector<std::string> effectStatusNames();  // every status, in lifecycle order

// Statement text with {{pending}}, {{running}}, ... as quoted literals
// (sql/status_literals.hpp): the effect SQL's statuses are these.
std::string effectSql(std::string_view text);

// Failed deliveries back off as failed events do.
using RetryPolicy = Backoff;

// A due effect at claim time: running, leased to the claimer; or unknown
// when its last attempt went through another provider than the claimer's,
// which may have it and would not recognise a repeat from elsewhere.
EffectStatus atClaim(bool lastAttemptElsewhere);

// A claimed effect given back without an attempt (a stopping daemon's
// leftovers, a claim whose commit was in doubt): as if never claimed.
EffectStatus afterRelease();

// What an attempt's outcome makes of a running effect.
struct AfterAttempt {
  EffectStatus status = EffectStatus::Sent;
  // Pending: due again after this long; jittered (Backoff::jitter) unless it
  // is the provider's own Retry-After.
  std::chrono::seconds delay{0};
  bool jitter = false;
  // False when the provider refused our credentials: nothing was delivered,
  // and the effect keeps its attempts for when they are accepted again.
  bool countsAttempt = true;
};

// `attempts` counts this one. A temporary failure on the last attempt is final.
AfterAttempt afterAttempt(const DeliveryResult& result, int attempts, int maxAttempts,
                          const RetryPolicy& policy);

// A lease that expired during delivery: the daemon died or hung, and whether
// the provider has the effect is not known. Safe to send again only through
// a provider that deduplicates on the key, as recorded at claim time.
EffectStatus afterExpiredLease(bool holderDeduplicates);

enum class OperatorCommand { Retry, Cancel };
// The statuses from which an operator's command applies; none of them is
// `running` (a delivery may be under way) or `sent`.
std::vector<EffectStatus> appliesTo(OperatorCommand command);
EffectStatus afterCommand(OperatorCommand command);

}  // namespace effectd::queue
