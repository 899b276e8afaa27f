#include "daemon/maintenance.hpp"

#include <algorithm>
#include <utility>

#include <pqxx/pqxx>

#include "base/log.hpp"
#include "intake/stored_events.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {

Maintenance::Maintenance(Options options)
    : options_(std::move(options)),
      connection_({.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout}),
      // Wakes every second; each task keeps its own schedule.
      thread_(std::chrono::seconds(1), [this] { return pass(); }) {}

Maintenance::~Maintenance() {
  stop();
}

// Retention of both tables, in one transaction, up to a batch of each:
// sent or cancelled effects compacted (their keys stay used forever),
// finished events deleted.
Maintenance::PruneCounts Maintenance::prune(pqxx::connection_base& conn, const Options& options) {
  pqxx::work tx(conn, "prune");
  const double seconds = static_cast<double>(options.retention.count()) * 3600.0;
  PruneCounts counts{.effectsCompacted = queue::compactOld(tx, seconds, options.pruneBatch),
                     .eventsDeleted = intake::pruneFinishedEvents(tx, seconds, options.pruneBatch)};
  tx.commit();
  return counts;
}

Maintenance::Counts Maintenance::runOnce(pqxx::connection_base& conn, const Options& options,
                                         Schedule& schedule, Clock::time_point now, Task* running) {
  Counts counts;
  const auto entering = [&](Task task) {
    if (running) *running = task;
  };
  if (now >= schedule.rescue) {
    entering(Task::Rescue);
    schedule.rescue = now + std::max(options.lease / 2, std::chrono::seconds(1));
    counts.rescued = queue::rescueExpired(conn, options.rescueBatch, options.worker);
  }
  if (now >= schedule.prune) {
    entering(Task::Retention);
    schedule.prune = now + options.pruneEvery;
    counts.pruned = prune(conn, options);
    counts.backlog = counts.pruned.effectsCompacted >= options.pruneBatch ||
                     counts.pruned.eventsDeleted >= options.pruneBatch;
    // Keep going in small batches while there is a backlog.
    if (counts.backlog) schedule.prune = now + std::chrono::seconds(1);
  }
  return counts;
}

bool Maintenance::pass() {
  auto* conn = connection_.get();
  if (!conn) {
    lostDatabase_ = true;
    return false;
  }
  // Back after losing the database: the outage kept every daemon from
  // renewing its leases, so none is judged until each had a lease's time to
  // reconnect and write what it delivered. Counted from now, the reconnect.
  if (std::exchange(lostDatabase_, false)) {
    schedule_.rescue = std::max(schedule_.rescue, Clock::now() + options_.lease);
  }
  auto running = Task::None;
  try {
    // One deadline for the pass: rescue runs first, retention has what is left.
    const auto deadline = connection_.deadline();
    const auto counts = runOnce(*conn, options_, schedule_, Clock::now(), &running);
    if (counts.rescued.requeued || counts.rescued.unknown) {
      log::warn("rescued effects with expired leases",
                {{"requeued", counts.rescued.requeued}, {"unknown", counts.rescued.unknown}});
    }
    if (counts.pruned.total() > 0) {
      log::info("retention", {{"effects_compacted", counts.pruned.effectsCompacted},
                              {"events_deleted", counts.pruned.eventsDeleted}});
    }
  } catch (const std::exception& e) {
    // Retention cut short by the deadline (a large table) is no outage: it
    // must not keep postponing the rescue.
    if (connection_.dropIfBroken() && running == Task::Rescue) lostDatabase_ = true;
    log::warn("queue maintenance failed", {{"error", sql::errorText(e)}});
  }
  return false;
}

}  // namespace effectd::daemon
