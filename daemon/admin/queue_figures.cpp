#include "daemon/admin/queue_figures.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "base/metrics.hpp"
#include "daemon/admin/admin_call.hpp"
#include "daemon/cli/operator_json.hpp"
#include "queue/channel_pauses.hpp"

namespace effectd::daemon {

namespace asio = boost::asio;

// Reads the queue's figures when the last read is older than cacheFor and
// no other read is under way; returns a copy of what is known now. When the
// database cannot be reached, the last figures stay, marked as failed.
asio::awaitable<QueueFigures::Snapshot> QueueFigures::fresh() {
  bool stale = false;
  {
    std::lock_guard lock(mutex_);
    stale = std::chrono::steady_clock::now() - snapshot_.readAt >= options_.cacheFor;
  }
  if (stale && !refreshing_.exchange(true)) {
    DatabaseCall refresh = [self = shared_from_this()](pqxx::connection_base& conn) {
      Snapshot read{queue::queueCounts(conn), queue::queueHealth(conn),
                    std::chrono::steady_clock::now(), true};
      std::lock_guard lock(self->mutex_);
      self->snapshot_ = std::move(read);
      return AdminReply{};
    };
    const auto answer = co_await asyncDatabase(worker_, std::move(refresh), asio::use_awaitable);
    refreshing_ = false;
    if (answer.status != 200) {
      std::lock_guard lock(mutex_);
      snapshot_.ok = false;  // the read failed: keep the last figures, say so
    }
  }
  std::lock_guard lock(mutex_);
  co_return snapshot_;
}

void QueueFigures::render(std::string& out, const Snapshot& q) {
  using metrics::appendHeader;
  using metrics::appendSample;
  appendHeader(out, "effectd_database_up", "1 when the last read of the queue succeeded.", "gauge");
  appendSample(out, "effectd_database_up", {}, q.ok ? 1 : 0);
  if (q.readAt == std::chrono::steady_clock::time_point{}) return;
  appendHeader(out, "effectd_effects",
               "OutboundEffect rows by kind and status (pending, running, dead, unknown).",
               "gauge");
  for (const auto& s : q.stats) {
    appendSample(out, "effectd_effects", {{"kind", s.kind}, {"status", s.status}},
                 static_cast<double>(s.count));
  }
  appendHeader(out, "effectd_queue_depth", "Pending effects whose time has come.", "gauge");
  appendSample(out, "effectd_queue_depth", {}, static_cast<double>(q.health.due));
  appendHeader(out, "effectd_queue_oldest_pending_age_seconds",
               "How long the oldest due pending effect has waited.", "gauge");
  appendSample(out, "effectd_queue_oldest_pending_age_seconds", {}, q.health.oldestDueSeconds);
  appendHeader(out, "effectd_effects_sent_last_minute",
               "Effects a provider accepted in the last 60 s, by every worker.", "gauge");
  appendSample(out, "effectd_effects_sent_last_minute", {},
               static_cast<double>(q.health.sentLastMinute));
  appendHeader(out, "effectd_queue_read_age_seconds", "Age of the queue figures above.", "gauge");
  appendSample(out, "effectd_queue_read_age_seconds", {},
               std::chrono::duration<double>(std::chrono::steady_clock::now() - q.readAt).count());
}

asio::awaitable<AdminReply> QueueFigures::metrics() {
  const auto queueFigures = co_await fresh();
  std::string body;
  body.reserve(std::size_t{16} * 1024);
  metrics::registry().render(body);
  metrics::renderProcess(body);
  if (options_.pauses) options_.pauses->renderMetrics(body);
  render(body, queueFigures);
  co_return AdminReply{
      200, std::move(body), "text/plain; version=0.0.4; charset=utf-8", "metrics", {}};
}

asio::awaitable<AdminReply> QueueFigures::stats() {
  const auto q = co_await fresh();
  if (q.readAt == std::chrono::steady_clock::time_point{}) {
    co_return AdminRoutes::unavailable("the queue's figures could not be read yet");
  }
  nlohmann::json byStatus = nlohmann::json::array();
  for (const auto& s : q.stats) byStatus.push_back(toJson(s));
  co_return AdminRoutes::json(
      200,
      nlohmann::json{
          {"effects", byStatus},
          {"sentLastMinute", q.health.sentLastMinute},
          {"due", q.health.due},
          {"oldestDueSeconds", q.health.oldestDueSeconds},
          {"databaseUp", q.ok},
          {"ageSeconds",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - q.readAt).count()}}
          .dump(),
      "stats");
}

}  // namespace effectd::daemon
