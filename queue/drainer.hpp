// Drains OutboundEffect: claims due effects in batches (SKIP LOCKED, leased
// to this worker), delivers them on a fixed number of delivery threads,
// writes outcomes in batches and renews leases while deliveries run. Wakes
// on NOTIFY from the table's trigger, and polls as a fallback (PgBouncer
// transaction pooling cannot LISTEN). Rescue and retention are
// queue/maintenance's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/service.hpp"
#include "queue/channel_pauses.hpp"
#include "queue/delivery_abort.hpp"
#include "queue/delivery_lanes.hpp"
#include "queue/effect.hpp"
#include "queue/effect_store.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::queue {

// The channel for each kind; a kind without one makes its effects dead.
struct Channels {
  std::unique_ptr<Channel> email;
  std::unique_ptr<Channel> analytics;
  std::unique_ptr<Channel> webhook;
  // Shared with the channels that block on the network; the drainer pulls
  // it when the shutdown grace runs out.
  std::shared_ptr<DeliveryAbort> abort = std::make_shared<DeliveryAbort>();
  // Each kind's limits and the pause after refused credentials, applied by
  // the drainer before a delivery slot is taken.
  DeliveryLanes::Options lanes;
  // Which kinds are paused now, for /readyz and /metrics.
  std::shared_ptr<ChannelPauses> pauses = std::make_shared<ChannelPauses>();
  Channel* forKind(EffectKind kind) const;
  std::vector<KindRoute> routes() const;  // each configured kind, its channel and idempotency
};

class Drainer final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    std::string listenUrl;  // direct connection for LISTEN; empty: poll only
    std::string worker;     // lockedBy: identifies this daemon
    int concurrency = 8;    // deliveries in flight
    int batchSize = 32;     // effects per claim
    std::chrono::seconds lease{60};
    std::chrono::milliseconds pollInterval{1000};
    // For deliveries in flight when stop() is called without beginStop().
    std::chrono::seconds shutdownGrace{20};
    RetryPolicy retry;
    std::chrono::milliseconds databaseTimeout{5000};  // per pass, then the connection is cut
  };

  struct Counts {
    int claimed = 0;
    int sent = 0;
    int retried = 0;
    int dead = 0;
    int unknown = 0;
    int refused = 0;
  };

  Drainer(Options options, std::shared_ptr<const Channels> channels);  // threads: start()
  ~Drainer() override;                                                 // stop()
  Drainer(const Drainer&) = delete;
  Drainer& operator=(const Drainer&) = delete;
  // Stops claiming now; deliveries in flight have until `deadline`, then
  // they are cut short. Returns at once: for SIGTERM, so the drainer's grace
  // runs while the HTTP server drains, not after it.
  void start() override;
  void beginStop(Clock::time_point deadline) override;
  // Waits: deliveries in flight finish (or are cut short at the deadline),
  // their outcomes are written, unstarted effects released.
  void stop() override;

  // One synchronous pass for tests and tools: claim, deliver each, complete.
  // No limits nor pauses: those are the running drainer's.
  static Counts runOnce(pqxx::connection_base& conn, const std::string& worker,
                        const Channels& channels, int batchSize, std::chrono::seconds lease,
                        const RetryPolicy& retry);

  static std::string defaultWorkerName();

  // How often the claimer has looked for due effects with the room it had.
  // A test that checks nothing more was claimed waits for it to look again.
  std::uint64_t claimLooks() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Delivers one effect, turning an exception into a result.
DeliveryResult deliverOne(const Channels& channels, const ClaimedEffect& effect);

}  // namespace effectd::queue
