// The two tables' housekeeping, on a connection and thread of its own so that it
// never delays a claim or a completion: rescues effects whose lease expired
// (their daemon died or hung) and applies retention (sent and cancelled
// effects compacted, old events deleted), each on its own schedule.
// After it lost the database, it rescues nothing for a lease's length from
// the reconnect: the outage kept every daemon from renewing, and the living
// ones must have the time to write what they delivered before their claims
// are taken.
#pragma once

#include <chrono>
#include <string>

#include "base/periodic_thread.hpp"
#include "queue/effect_store.hpp"
#include "sql/connection.hpp"

namespace effectd::daemon {

class Maintenance final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    // Rescue runs every half lease (at least every second): an expired
    // lease waits at most that long.
    std::chrono::seconds lease{60};
    // This process's drainer: its leases are never rescued here.
    std::string worker;
    int rescueBatch = 100;
    std::chrono::hours retention{24 * 30};  // EFFECTD_RETENTION_DAYS
    int pruneBatch = 500;
    // Retention runs every minute, and every second while a backlog lasts.
    std::chrono::seconds pruneEvery{60};
    std::chrono::milliseconds databaseTimeout{5000};
  };

  struct PruneCounts {
    int effectsCompacted = 0;
    int eventsDeleted = 0;
    int total() const { return effectsCompacted + eventsDeleted; }
  };
  struct Counts {
    queue::RescueCounts rescued;
    PruneCounts pruned;
    bool backlog = false;  // retention filled a batch: more is due now
  };

  // What is due at `now`, and when each task is due next.
  struct Schedule {
    Clock::time_point rescue{};
    Clock::time_point prune{};  // the first pass comes at start
  };

  explicit Maintenance(Options options);  // the thread starts with start()
  ~Maintenance() override;

  void start() override { thread_.start(); }
  void beginStop(Clock::time_point deadline) override { thread_.beginStop(deadline); }
  void stop() override { thread_.stop(); }

  enum class Task { None, Rescue, Retention };

  // Runs the tasks `schedule` says are due at `now` and moves them on.
  // Each task is scheduled before it runs: one that keeps failing waits for
  // its turn instead of running on every pass. Throws what the database
  // throws; `running`, when given, then says which task it was in.
  static Counts runOnce(pqxx::connection_base& conn, const Options& options, Schedule& schedule,
                        Clock::time_point now, Task* running = nullptr);

 private:
  static PruneCounts prune(pqxx::connection_base& conn, const Options& options);
  bool pass();

  Options options_;
  Schedule schedule_;
  // The database was lost (no connection, or the rescue's was cut): rescue
  // waits a lease from the next connection.
  bool lostDatabase_ = false;
  sql::Connection connection_;
  PeriodicThread thread_;  // last: it runs passes on the members above
};

}  // namespace effectd::daemon
