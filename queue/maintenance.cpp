#include "queue/maintenance.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "sql/error_text.hpp"

namespace effectd::queue {

Maintenance::Maintenance(Options options)
    : options_(std::move(options)),
      connection_({.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout}),
      // Wakes every second; each task keeps its own schedule.
      thread_(std::chrono::seconds(1), [this] { return pass(); }) {}

Maintenance::~Maintenance() {
  stop();
}

Maintenance::Counts Maintenance::runOnce(pqxx::connection_base& conn, const Options& options,
                                         Schedule& schedule, Clock::time_point now) {
  Counts counts;
  if (now >= schedule.rescue) {
    schedule.rescue = now + std::max(options.lease / 2, std::chrono::seconds(1));
    counts.rescued = rescueExpired(conn, options.rescueBatch, options.worker);
  }
  if (now >= schedule.prune) {
    schedule.prune = now + options.pruneEvery;
    counts.pruned = pruneOld(conn, options.retention, options.pruneBatch);
    counts.backlog = counts.pruned.effectsCompacted >= options.pruneBatch ||
                     counts.pruned.eventsDeleted >= options.pruneBatch;
    // Keep going in small batches while there is a backlog.
    if (counts.backlog) schedule.prune = now + std::chrono::seconds(1);
  }
  return counts;
}

bool Maintenance::pass() {
  // Unreachable now: whatever lease expires meanwhile, its holder could not
  // renew it either.
  const auto holdOffRescue = [this] {
    schedule_.rescue = std::max(schedule_.rescue, Clock::now() + options_.lease);
  };
  auto* conn = connection_.get();
  if (!conn) {
    holdOffRescue();
    return false;
  }
  try {
    // One deadline for the pass: rescue runs first, retention has what is left.
    const auto deadline = connection_.deadline();
    const auto counts = runOnce(*conn, options_, schedule_, Clock::now());
    if (counts.rescued.requeued || counts.rescued.unknown) {
      log::warn("rescued effects with expired leases",
                {{"requeued", counts.rescued.requeued}, {"unknown", counts.rescued.unknown}});
    }
    if (counts.pruned.total() > 0) {
      log::info("retention", {{"effects_compacted", counts.pruned.effectsCompacted},
                              {"events_deleted", counts.pruned.eventsDeleted}});
    }
  } catch (const std::exception& e) {
    connection_.dropIfBroken();
    holdOffRescue();
    log::warn("queue maintenance failed", {{"error", sql::errorText(e)}});
  }
  return false;
}

}  // namespace effectd::queue
