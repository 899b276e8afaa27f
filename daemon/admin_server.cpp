#include "daemon/admin_server.hpp"

#include "queue/channel_pauses.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "base/log.hpp"
#include "base/log_throttle.hpp"
#include "base/metrics.hpp"
#include "daemon/admin_routes.hpp"
#include "daemon/admin_worker.hpp"
#include "daemon/listen_socket.hpp"
#include "daemon/operator_json.hpp"
#include "daemon/read_refusal.hpp"
#include "daemon/transition_feed.hpp"
#include "queue/effect_admin.hpp"
#include "queue/effect_transitions.hpp"

namespace effectd::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// How many transitions a newly opened page starts with.
constexpr int kHistory = 50;
// A comment line this often keeps proxies from closing an idle stream and
// finds a browser that went away.
constexpr auto kHeartbeat = std::chrono::seconds(15);
constexpr std::string_view kHeartbeatLine = ": heartbeat\n\n";

// Log lines a client causes at will (401, 404, too large): at most 20 a second.
log::LogThrottle adminRejectionLog(20);

// Runs `call` on the admin worker and resumes the caller on its own executor
// with the reply. The worker calls every job exactly once, so the caller is
// always resumed, with a 503 when the database or the worker is not there.
//
// GCC 12 destroys a lambda with captures twice when it is built inside a
// co_await expression (a shared_ptr it holds then loses a reference each
// time, and the server was freed under its sessions): callers name their
// call first and pass it moved, and no co_await here has a temporary with a
// destructor in it.
template <typename Token>
auto asyncDatabase(AdminWorker& worker, DatabaseCall&& call, Token&& token) {
  return asio::async_initiate<Token, void(AdminReply)>(
      [&worker](auto handler, DatabaseCall&& call) {
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
            asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto answer = [work, shared](AdminReply reply) {
          asio::post(work->get_executor(), [work, shared, reply = std::move(reply)]() mutable {
            std::move (*shared)(std::move(reply));
          });
        };
        const bool queued =
            worker.submit([call = std::move(call), answer](pqxx::connection_base* conn,
                                                           const std::string& unreachable) {
              if (!conn) {
                answer(AdminRoutes::unavailable("database unavailable: " + unreachable));
                return;
              }
              try {
                answer(call(*conn));
              } catch (const std::exception& e) {
                // Rethrown after answering, so the worker checks its connection.
                answer(AdminRoutes::json(500, nlohmann::json{{"error", e.what()}}.dump(),
                                         "database error"));
                throw;
              }
            });
        if (!queued) answer(AdminRoutes::unavailable("admin requests queued too deep"));
      },
      token, std::move(call));
}

// The queue's figures for /metrics and the page, read at most every few
// seconds, by one read at a time. Only the statuses that make up the queue
// are counted (an index-only read); sent and cancelled rows are kept forever
// and would make every read a scan of the whole table.
struct QueueSnapshot {
  std::vector<queue::EffectStat> stats;
  queue::QueueHealth health;
  std::chrono::steady_clock::time_point readAt{};
  bool ok = false;
};

void renderQueue(std::string& out, const QueueSnapshot& q) {
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

http::response<http::string_body> toResponse(const AdminReply& reply, unsigned version,
                                             bool keepAlive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, "effectd");
  res.set(http::field::content_type, reply.contentType);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : reply.headers) res.insert(name, value);
  res.keep_alive(keepAlive);
  res.body() = reply.body;
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

}  // namespace

struct AdminServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& ioc, Options options, const AdminRoutes& routes, AdminWorker& worker,
       TransitionFeed& feed)
      : ioc(ioc),
        options(std::move(options)),
        routes(routes),
        worker(worker),
        feed(feed),
        strand(asio::make_strand(ioc)),
        acceptor(strand),
        deadline(strand) {
    listenOn(acceptor, this->options.listen, 64);
  }

  asio::awaitable<void> acceptLoop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) break;
        log::warn("admin accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(strand, std::chrono::milliseconds(50));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      // At the cap, the connection idle the longest gives way, so that idle
      // clients cannot lock Prometheus and the page out.
      if (active.load() >= options.maxConnections && !closeOldestIdle()) {
        if (++refusedSinceLog == 1 ||
            std::chrono::steady_clock::now() - lastRefusedLog > std::chrono::seconds(10)) {
          log::warn("admin connections refused: too many connections",
                    {{"limit", options.maxConnections}, {"refused", refusedSinceLog}});
          lastRefusedLog = std::chrono::steady_clock::now();
          refusedSinceLog = 0;
        }
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++active;
      auto session = std::make_shared<Session>(std::move(socket));
      {
        std::lock_guard lock(mutex);
        sessions.push_back(session);
      }
      auto executor = session->stream.get_executor();
      asio::co_spawn(executor, run(session), asio::detached);
    }
  }

  struct Session {
    explicit Session(tcp::socket socket)
        : stream(std::move(socket)),
          wake(std::make_shared<asio::steady_timer>(stream.get_executor())) {}
    beast::tcp_stream stream;
    std::shared_ptr<asio::steady_timer> wake;  // a live page waits on it
    bool busy = false;                         // touched on the session's strand only
    // Waiting for a request: may be closed to make room. Claimed (set false)
    // by whichever comes first, the session's read or closeOldestIdle.
    std::atomic<bool> idle{true};
    std::atomic<std::int64_t> idleSince{
        std::chrono::steady_clock::now().time_since_epoch().count()};
  };

  bool closeOldestIdle() {
    std::lock_guard lock(mutex);
    for (;;) {
      std::shared_ptr<Session> oldest;
      for (auto& s : sessions) {
        if (s->idle && (!oldest || s->idleSince < oldest->idleSince)) oldest = s;
      }
      if (!oldest) return false;
      bool expected = true;
      if (!oldest->idle.compare_exchange_strong(expected, false)) continue;
      asio::post(oldest->stream.get_executor(), [oldest] { oldest->stream.cancel(); });
      return true;
    }
  }

  asio::awaitable<void> run(std::shared_ptr<Session> session) {
    auto self = shared_from_this();
    auto& stream = session->stream;
    beast::flat_buffer buffer(options.maxHeaderBytes + std::size_t{8} * 1024);
    bool first = true;
    for (;;) {
      if (stopping) break;
      stream.expires_after(first ? options.readTimeout : options.idleTimeout);
      first = false;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.maxHeaderBytes));
      parser.body_limit(options.maxBodyBytes);
      session->idleSince = std::chrono::steady_clock::now().time_since_epoch().count();
      session->idle = true;
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
      // Closed to make room while it waited: its read was cancelled.
      if (!session->idle.exchange(false)) break;
      if (ec) {
        if (const auto refusal = readRefusal(ec)) {
          const auto reply = AdminRoutes::json(
              refusal->status, R"({"error":")" + std::string(refusal->error) + R"("})",
              refusal->reason);
          co_await write(stream, reply, 11, false, false);
          if (adminRejectionLog.admitReporting(refusal->status,
                                               "rejected admin requests not logged one by one")) {
            log::warn("admin request rejected",
                      {{"status", refusal->status}, {"reason", refusal->reason}});
          }
        }
        break;
      }
      session->busy = true;
      const auto started = std::chrono::steady_clock::now();
      auto request = parser.release();
      const auto method = std::string(request.method_string());
      const auto target = std::string(request.target());
      const bool head = request.method() == http::verb::head;
      bool keepAlive = request.keep_alive() && !stopping;
      auto decision = routes.handle({.method = method,
                                     .target = target,
                                     .authorization = request[http::field::authorization],
                                     .origin = request[http::field::origin],
                                     .host = request[http::field::host],
                                     .contentType = request[http::field::content_type],
                                     .body = request.body()});
      if (std::holds_alternative<TransitionStream>(decision)) {
        const auto status = co_await streamTransitions(session, request.version());
        logRequest(method, target, status, status == 200 ? "stream ended" : "too many live pages",
                   started);
        break;
      }
      AdminReply reply;
      if (auto* ready = std::get_if<AdminReply>(&decision)) {
        reply = std::move(*ready);
      } else if (auto* call = std::get_if<DatabaseCall>(&decision)) {
        reply = co_await asyncDatabase(worker, std::move(*call), asio::use_awaitable);
      } else if (std::holds_alternative<StatsAction>(decision)) {
        reply = co_await statsReply();
      } else {
        reply = co_await metricsReply();
      }
      // A refused request ends its connection: a client without the token
      // cannot hold a slot with it.
      keepAlive = keepAlive && reply.status < 400;
      co_await write(stream, reply, request.version(), keepAlive, head);
      logRequest(method, target, reply.status, reply.reason, started);
      session->busy = false;
      if (!keepAlive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    {
      std::lock_guard lock(mutex);
      sessions.remove(session);
    }
    if (--active == 0 && stopping) {
      asio::post(strand, [self] { self->deadline.cancel(); });
    }
  }

  static void logRequest(const std::string& method, const std::string& target, unsigned status,
                         const std::string& reason, std::chrono::steady_clock::time_point started) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    // Refusals (401, 404) come at a client's rate: throttled.
    if (status >= 400 && status < 500 &&
        !adminRejectionLog.admitReporting(status,
                                          "rejected admin requests not logged one by one")) {
      return;
    }
    // The path only: a query may carry a key prefix, never a secret, but
    // the path is what an operator greps for.
    log::write(status >= 400 ? log::Level::Warn : log::Level::Debug, "admin request",
               {{"method", method},
                {"path", target.substr(0, target.find('?'))},
                {"status", status},
                {"reason", reason},
                {"duration_ms", static_cast<double>(micros) / 1000.0}});
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, const AdminReply& reply, unsigned version,
                              bool keepAlive, bool head) {
    auto res = toResponse(reply, version, keepAlive, head);
    stream.expires_after(options.readTimeout);
    co_await http::async_write(stream, res, kNoThrow);
  }

  // Reads the queue's figures when the last read is older than
  // queueCacheFor and no other read is under way; returns a copy of what
  // is known now. When the database cannot be reached, the last figures
  // stay, marked as failed.
  asio::awaitable<QueueSnapshot> freshSnapshot() {
    bool stale = false;
    {
      std::lock_guard lock(snapshotMutex);
      stale = std::chrono::steady_clock::now() - snapshot.readAt >= options.queueCacheFor;
    }
    if (stale && !refreshing.exchange(true)) {
      DatabaseCall refresh = [self = shared_from_this()](pqxx::connection_base& conn) {
        QueueSnapshot fresh{queue::queueCounts(conn), queue::queueHealth(conn),
                            std::chrono::steady_clock::now(), true};
        std::lock_guard lock(self->snapshotMutex);
        self->snapshot = std::move(fresh);
        return AdminReply{};
      };
      const auto answer = co_await asyncDatabase(worker, std::move(refresh), asio::use_awaitable);
      refreshing = false;
      if (answer.status != 200) {
        std::lock_guard lock(snapshotMutex);
        snapshot.ok = false;  // the read failed: keep the last figures, say so
      }
    }
    std::lock_guard lock(snapshotMutex);
    co_return snapshot;
  }

  // In-memory figures now, the queue's from the cached read.
  asio::awaitable<AdminReply> metricsReply() {
    const auto queueFigures = co_await freshSnapshot();
    std::string body;
    body.reserve(std::size_t{16} * 1024);
    metrics::registry().render(body);
    metrics::renderProcess(body);
    if (options.pauses) options.pauses->renderMetrics(body);
    renderQueue(body, queueFigures);
    co_return AdminReply{
        200, std::move(body), "text/plain; version=0.0.4; charset=utf-8", "metrics", {}};
  }

  // The page's figures, from the same cached read as /metrics: any number of
  // open pages cost one read every queueCacheFor.
  asio::awaitable<AdminReply> statsReply() {
    const auto q = co_await freshSnapshot();
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

  // A write of the stream's bytes; false once the browser is gone. The
  // stream's timeout lets go of a browser that stops reading.
  asio::awaitable<bool> send(beast::tcp_stream& stream, std::string_view text) {
    stream.expires_after(options.readTimeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), kNoThrow);
    co_return !ec;
  }

  // Server-sent events: the latest transitions, then each one as it happens.
  // Returns the status answered.
  asio::awaitable<unsigned> streamTransitions(std::shared_ptr<Session> session, unsigned version) {
    auto& stream = session->stream;
    if (!feed.available()) {
      const auto refused = AdminRoutes::unavailable(
          "the live view needs DATABASE_LISTEN_URL, a direct connection: DATABASE_URL goes "
          "through a transaction pooler, where LISTEN does not work");
      co_await write(stream, refused, version, false, false);
      co_return 503;
    }
    if (streams.fetch_add(1) >= options.maxStreams) {
      --streams;
      const auto refused = AdminRoutes::unavailable("too many live pages open");
      co_await write(stream, refused, version, false, false);
      co_return 503;
    }
    auto wake = session->wake;
    auto executor = stream.get_executor();
    const auto subscriber =
        feed.subscribe([wake, executor] { asio::post(executor, [wake] { wake->cancel(); }); });
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::server, "effectd");
    res.set(http::field::content_type, "text/event-stream; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(false);  // the stream ends with the connection
    http::response_serializer<http::empty_body> serializer(res);
    stream.expires_after(options.readTimeout);
    auto [headerError, ignoredBytes] =
        co_await http::async_write_header(stream, serializer, kNoThrow);

    bool open = !headerError;
    // The history only once the feed listens (the first page starts it):
    // what changes in between is then in the history, the stream, or both
    // (the page drops what it has already shown), never in neither.
    for (auto waited = std::chrono::milliseconds(0);
         open && !stopping && !feed.listening() && waited < std::chrono::seconds(5);
         waited += std::chrono::milliseconds(100)) {
      wake->expires_after(std::chrono::milliseconds(100));
      co_await wake->async_wait(kNoThrow);
    }
    if (open) {
      DatabaseCall readHistory = [](pqxx::connection_base& conn) {
        std::string text;
        for (const auto& t : queue::latestTransitions(conn, {}, kHistory)) {
          text.append("data: ")
              .append(toJson(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
              .append("\n\n");
        }
        return AdminReply{200, std::move(text)};
      };
      const auto history =
          co_await asyncDatabase(worker, std::move(readHistory), asio::use_awaitable);
      const std::string text = "retry: 2000\n\n" + (history.status == 200 ? history.body : "");
      open = co_await send(stream, text);
    }
    while (open && !stopping) {
      auto batch = subscriber->take();
      if (batch.lines.empty() && batch.dropped == 0) {
        // The stream's own timeout is for writes; an expiry while nothing
        // is pending would fail the next write at once.
        stream.expires_never();
        wake->expires_after(kHeartbeat);
        auto [ec] = co_await wake->async_wait(kNoThrow);
        if (stopping) break;
        if (!ec) open = co_await send(stream, kHeartbeatLine);
        continue;
      }
      std::string text;
      for (const auto& line : batch.lines) text.append("data: ").append(line).append("\n\n");
      if (batch.dropped > 0) {
        text += "event: dropped\ndata: " + std::to_string(batch.dropped) + "\n\n";
      }
      open = co_await send(stream, text);
    }
    feed.unsubscribe(subscriber);
    --streams;
    co_return 200;
  }

  void shutdown(std::chrono::seconds grace) {
    if (stopping.exchange(true)) return;
    auto self = shared_from_this();
    asio::post(strand, [self, grace] {
      boost::system::error_code ignored;
      self->acceptor.close(ignored);
      self->forEachSession([](Session& s) {
        // A live page ends now; an idle connection too; a request in
        // flight finishes first.
        s.wake->cancel();
        if (!s.busy) s.stream.cancel();
      });
      if (self->active.load() == 0) return;
      self->deadline.expires_after(grace);
      self->deadline.async_wait([self](boost::system::error_code ec) {
        if (ec) return;
        self->forEachSession([](Session& s) {
          boost::system::error_code ignored;
          s.stream.socket().close(ignored);
        });
      });
    });
  }

  template <typename F>
  void forEachSession(F f) {
    std::lock_guard lock(mutex);
    for (auto& session : sessions) {
      asio::post(session->stream.get_executor(), [session, f] { f(*session); });
    }
  }

  asio::io_context& ioc;
  Options options;
  const AdminRoutes& routes;
  AdminWorker& worker;
  TransitionFeed& feed;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  asio::steady_timer deadline;
  std::atomic<int> active{0};
  std::atomic<int> streams{0};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::list<std::shared_ptr<Session>> sessions;
  std::mutex snapshotMutex;
  QueueSnapshot snapshot;
  std::atomic<bool> refreshing{false};
  int refusedSinceLog = 0;  // on the acceptor's strand
  std::chrono::steady_clock::time_point lastRefusedLog{};
};

AdminServer::AdminServer(asio::io_context& ioc, Options options, const AdminRoutes& routes,
                         AdminWorker& worker, TransitionFeed& feed)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), routes, worker, feed)) {}

AdminServer::~AdminServer() = default;

void AdminServer::start() {
  asio::co_spawn(impl_->strand, impl_->acceptLoop(), asio::detached);
}

void AdminServer::shutdown(std::chrono::seconds deadline) {
  impl_->shutdown(deadline);
}

std::uint16_t AdminServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace effectd::daemon
