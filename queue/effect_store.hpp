// The drainer's SQL on OutboundEffect, one function per statement: claim a
// batch (SKIP LOCKED, lease), complete a batch, renew leases, rescue expired
// leases, prune old rows. Each is one round trip. Claim, complete, release
// and renew run in the caller's transaction, so the drainer writes the
// outcomes of one batch and claims the next with a single commit. Batch
// statements find their rows through the primary key, never a table scan.
// The statuses they write are decided in effect_status; those they filter on
// are spelled in the SQL, as the partial indexes' predicates are, so that
// the planner can use those indexes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "queue/effect.hpp"
#include "queue/effect_status.hpp"

namespace pqxx {
class connection_base;
class transaction_base;
}  // namespace pqxx

namespace effectd::queue {

struct Completion {
  std::string id;
  DeliveryResult result;
  int attempts = 0;
  int maxAttempts = 1;
};

// A kind of effect this daemon delivers, and how.
struct KindRoute {
  EffectKind kind = EffectKind::Email;
  // The channel's name (resend, smtp...): recorded as the row's lastProvider.
  // A due effect whose last attempt went through another provider may already
  // be there: it becomes unknown instead of claimed. Empty: not recorded.
  std::string provider;
  bool idempotent = false;  // the provider deduplicates on the key
};

// A kind to claim, and at most how many of it.
struct RouteClaim {
  KindRoute route;
  int limit = 32;
};

struct ClaimRequest {
  std::string worker;  // lockedBy
  int limit = 32;      // of all kinds together, the earliest due first
  std::chrono::seconds lease{60};
  std::vector<RouteClaim> routes;  // kinds without one stay pending for another daemon
  // Effects still in this worker's hand (a completion not yet confirmed
  // among them): never claimed again until their outcome is written.
  std::vector<std::string> exclude;
  // Webhook receivers with their share in hand already: webhooks whose url's
  // authority (lowercase, "host:port" or "host") is among these are left.
  std::vector<std::string> skipAuthorities;
};

// Claims of every route at once, up to `limit` of each.
std::vector<RouteClaim> eachUpTo(const std::vector<KindRoute>& routes, int limit);

// Marks up to `limit` due pending effects of the routed kinds (each kind up
// to its own limit) running, leased to `worker`, and records with each its
// provider and whether that deduplicates (the rescuer of an expired lease
// reads that).
std::vector<ClaimedEffect> claimEffects(pqxx::transaction_base& tx, const ClaimRequest& request);

// Writes outcomes, each as afterAttempt decides; an effect whose lease was
// taken over meanwhile (lockedBy differs), or claimed again since (attempts
// differ), is left alone. Returns how many rows were written.
int completeEffects(pqxx::transaction_base& tx, const std::string& worker,
                    const std::vector<Completion>& completions, const RetryPolicy& policy);

// Gives effects claimed but not delivered back to the queue, as if never
// claimed (a stopping daemon's leftovers).
int releaseEffects(pqxx::transaction_base& tx, const std::string& worker,
                   const std::vector<std::string>& ids);

// Extends the leases of the effects `worker` holds in memory (`ids`). A row
// leased to this worker that it does not hold (its claim's commit answer was
// lost) is left to expire and be rescued.
int renewLeases(pqxx::transaction_base& tx, const std::string& worker,
                const std::vector<std::string>& ids, std::chrono::seconds lease);

// Gives back every effect leased to `worker` that is not among `held`: rows
// a claim leased although its commit's answer was lost, so no delivery ever
// started. Returns how many.
int releaseUnheld(pqxx::transaction_base& tx, const std::string& worker,
                  const std::vector<std::string>& held);

struct RescueCounts {
  int requeued = 0;  // idempotent channels: back to pending
  int unknown = 0;   // the others: may have been sent
};
// Effects whose lease expired (their daemon died or hung), as
// afterExpiredLease decides from the lease holder's provider (recorded at
// claim). Never those of `ownWorker`, this process's drainer: it is alive,
// renews what it holds and writes what it delivered, however late a
// database outage lets it.
RescueCounts rescueExpired(pqxx::connection_base& conn, int limit,
                           const std::string& ownWorker = {});

// Retention of effects, up to `limit` sent or cancelled ones last updated
// more than `seconds` ago: they lose their payload and error text but keep
// their row, so that their key stays used forever. Returns how many.
int compactOld(pqxx::transaction_base& tx, double seconds, int limit);

}  // namespace effectd::queue
