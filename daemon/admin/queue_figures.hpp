// The queue's figures for /metrics and the admin page's stats, read at most
// every few seconds, by one read at a time on the admin worker: any number
// of scrapes and open pages cost one read every `cacheFor`. Only the
// statuses that make up the queue are counted (an index-only read); sent
// and cancelled rows are kept forever and would make every read a scan of
// the whole table.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "daemon/admin/admin_routes.hpp"
#include "queue/effect_admin.hpp"

namespace effectd::queue {
class ChannelPauses;
}

namespace effectd::daemon {

class AdminWorker;

class QueueFigures : public std::enable_shared_from_this<QueueFigures> {
 public:
  struct Options {
    std::chrono::seconds cacheFor{5};
    const queue::ChannelPauses* pauses = nullptr;  // effectd_channel_paused, when set
  };
  QueueFigures(Options options, AdminWorker& worker) : options_(options), worker_(worker) {}

  // In-memory figures now, the queue's from the cached read.
  boost::asio::awaitable<AdminReply> metrics();
  // The page's figures, from the same cached read.
  boost::asio::awaitable<AdminReply> stats();

 private:
  struct Snapshot {
    std::vector<queue::EffectStat> stats;
    queue::QueueHealth health;
    std::chrono::steady_clock::time_point readAt{};
    bool ok = false;
  };
  boost::asio::awaitable<Snapshot> fresh();
  static void render(std::string& out, const Snapshot& q);

  Options options_;
  AdminWorker& worker_;
  std::mutex mutex_;
  Snapshot snapshot_;
  std::atomic<bool> refreshing_{false};
};

}  // namespace effectd::daemon
