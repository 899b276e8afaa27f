#include "daemon/http_server.hpp"

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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <list>
#include <mutex>
#include <optional>

#include "base/log.hpp"
#include "base/log_throttle.hpp"
#include "base/metrics.hpp"
#include "daemon/listen_socket.hpp"
#include "daemon/public_routes.hpp"
#include "daemon/read_refusal.hpp"
#include "intake/intake_writer.hpp"

namespace effectd::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// After answering a request whose body we refuse to read, keep reading (and
// discarding) briefly before closing: closing a socket with unread data sends
// a reset, which can destroy our response before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = std::size_t{256} * 1024;

// Hands an event to the intake writer and resumes the caller on its own
// executor with the outcome. The work guard keeps the io_context running
// while the database has the event, so a shutdown waits for the answer.
template <typename Token>
auto asyncStore(intake::IntakeWriter& writer, intake::IncomingEvent event, Token&& token) {
  return asio::async_initiate<Token, void(intake::StoreOutcome)>(
      [&writer](auto handler, intake::IncomingEvent&& event) {
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
            asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        writer.submit(std::move(event), [work, shared](intake::StoreOutcome outcome) {
          asio::post(work->get_executor(),
                     [work, shared, outcome] { std::move (*shared)(outcome); });
        });
      },
      token, std::move(event));
}

// Past a request's header, bytes that are neither header nor body (a chunk
// size line and its extensions, trailers) must fit in this much beyond the
// header limit; without a bound they grow the buffer for the whole read
// timeout on every connection.
constexpr std::size_t kFramingSlack = std::size_t{8} * 1024;

// A chunked body may spend this much on chunk extensions, and come in this
// many chunks: Stripe sends neither, and without a cap a client can keep
// the parser busy with framing that carries (almost) no body.
constexpr std::size_t kMaxChunkExtensionBytes = 1024;
constexpr std::size_t kMaxChunks = std::size_t{16} * 1024;

// Log lines a client causes at will (rejected requests): at most this many a
// second, and a count of the rest.
log::LogThrottle rejectionLog(20);

bool admitRejectionLog(unsigned status) {
  return rejectionLog.admitReporting(status, "rejected requests not logged one by one");
}

struct SessionState {
  enum class Phase {
    Idle,     // waiting for the first byte of a request: may be closed to make room
    Reading,  // a request's header is arriving
    Busy,     // a request is being read past its header or answered
  };
  asio::any_io_executor executor;         // the session's strand
  beast::tcp_stream* stream = nullptr;    // null once the session ended; touched on the strand only
  std::atomic<Phase> phase{Phase::Idle};  // a new connection has sent nothing yet
  // When it last became idle (steady clock, nanoseconds): the longest idle
  // gives way first.
  std::atomic<std::int64_t> idleSince{std::chrono::steady_clock::now().time_since_epoch().count()};
};

constexpr std::string_view kWebhookPath = "/webhooks/stripe";

// Every answer to Stripe, by status and reason, for /metrics; the time of
// those whose request was read (not of one refused at its header).
void countWebhook(const Reply& reply, std::optional<double> seconds) {
  auto& m = metrics::registry();
  m.webhookRequests.inc({std::to_string(reply.status), reply.reason});
  if (seconds) m.webhookDuration.observe(*seconds);
}

struct Exchange {
  Reply reply;
  std::string eventId;
  std::string eventType;
};

http::response<http::string_body> toResponse(const Reply& reply, unsigned version, bool keepAlive,
                                             bool head) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, "effectd");
  res.set(http::field::content_type, "application/json");
  if (reply.retryAfterSeconds > 0) {
    res.set(http::field::retry_after, std::to_string(reply.retryAfterSeconds));
  }
  res.keep_alive(keepAlive);
  res.body() = reply.body;
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& ioc, Options options, PublicRoutes& routes, intake::IntakeWriter& writer)
      : ioc(ioc),
        options(std::move(options)),
        routes(routes),
        writer(writer),
        strand(asio::make_strand(ioc)),
        acceptor(strand),
        deadline(strand) {
    listenOn(acceptor, this->options.listen, asio::socket_base::max_listen_connections);
  }

  asio::awaitable<void> acceptLoop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) break;
        // EMFILE and friends: back off a little rather than spin.
        log::warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(strand, std::chrono::milliseconds(50));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      // At the cap, an idle kept-alive connection gives way to a new one;
      // only when every connection is in use is the new one refused.
      if (active.load() >= options.maxConnections && !closeOldestIdle()) {
        log::warn("connection refused: too many connections", {{"limit", options.maxConnections}});
        auto executor = socket.get_executor();
        asio::co_spawn(executor, refuse(std::move(socket)), asio::detached);
        continue;
      }
      ++active;
      auto state = std::make_shared<SessionState>();
      state->executor = socket.get_executor();
      {
        std::lock_guard lock(mutex);
        sessions.push_back(state);
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket), state), asio::detached);
    }
  }

  // Closes the session that has waited the longest without sending a byte
  // of a request: a kept-alive connection between requests, or a new one
  // that has sent nothing (a silent socket must not hold a slot Stripe
  // needs). Its close is asynchronous, so the count may briefly pass the cap
  // by the connections accepted meanwhile.
  bool closeOldestIdle() {
    std::lock_guard lock(mutex);
    for (;;) {
      std::shared_ptr<SessionState> oldest;
      for (auto& state : sessions) {
        if (state->phase != SessionState::Phase::Idle) continue;
        if (!oldest || state->idleSince < oldest->idleSince) oldest = state;
      }
      if (!oldest) return false;
      auto expected = SessionState::Phase::Idle;
      // Claimed here, so no other accept picks the same one; the session
      // reads this as "closing". Lost to the session itself: look again.
      if (!oldest->phase.compare_exchange_strong(expected, SessionState::Phase::Busy)) continue;
      asio::post(oldest->executor, [oldest] {
        if (oldest->stream) oldest->stream->cancel();
      });
      log::debug("closing an idle connection to make room", {{"limit", options.maxConnections}});
      return true;
    }
  }

  asio::awaitable<void> refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(5));
    auto res = toResponse(PublicRoutes::unavailable("too many connections"), 11, false, false);
    co_await http::async_write(stream, res, kNoThrow);
    co_await lingeringClose(stream);
  }

  asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<SessionState> state) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    state->stream = &stream;
    boost::system::error_code ignored;
    const auto peer = stream.socket().remote_endpoint(ignored);
    const auto remote = peer.address().to_string() + ":" + std::to_string(peer.port());
    beast::flat_buffer buffer(options.maxHeaderBytes + kFramingSlack);
    bool first = true;
    bool linger = false;

    // The first request, from the accept to its last byte, has the read
    // timeout; a kept-alive connection may then idle for the idle timeout,
    // and each request that follows has the read timeout from its first byte.
    stream.expires_after(options.readTimeout);
    // Closed to make room before it even started.
    const bool closedBeforeStart = state->phase == SessionState::Phase::Busy;
    for (;;) {
      if (stopping || closedBeforeStart) break;
      if (!first) {
        auto expected = SessionState::Phase::Busy;
        state->phase.compare_exchange_strong(expected, SessionState::Phase::Idle);
        state->idleSince = std::chrono::steady_clock::now().time_since_epoch().count();
      }
      if (buffer.size() == 0) {
        if (!first) stream.expires_after(options.idleTimeout);
        auto [idleError, n] = co_await stream.async_read_some(
            buffer.prepare(std::min<std::size_t>(4096, buffer.max_size())), kNoThrow);
        buffer.commit(n);
        if (idleError) break;
      }
      auto expected = SessionState::Phase::Idle;
      // Lost the race to closeOldestIdle(): this connection is being closed.
      if (!state->phase.compare_exchange_strong(expected, SessionState::Phase::Reading)) break;
      if (!first) stream.expires_after(options.readTimeout);  // the whole request
      first = false;
      ChunkLimits chunkLimits;  // outlives the parser, which keeps a reference
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.maxHeaderBytes));
      parser.body_limit(options.maxBodyBytes);
      parser.on_chunk_header(chunkLimits.callback);

      auto [readError, headerBytes] =
          co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      if (readError) {
        if (const auto reply = headerRejection(readError)) {
          co_await write(stream, *reply, 11, false, false);
          const auto target = parser.get().target();
          if (target.substr(0, target.find('?')) == kWebhookPath)
            countWebhook(*reply, std::nullopt);
          if (admitRejectionLog(reply->status)) {
            log::warn("request rejected",
                      {{"status", reply->status}, {"reason", reply->reason}, {"remote", remote}});
          }
          linger = true;
        } else if (readError != http::error::end_of_stream &&
                   readError != asio::error::operation_aborted &&
                   readError != beast::error::timeout) {
          log::debug("connection closed", {{"remote", remote}, {"error", readError.message()}});
        }
        break;
      }
      state->phase = SessionState::Phase::Busy;
      const auto started = std::chrono::steady_clock::now();
      const auto& header = parser.get();
      const auto version = header.version();
      const bool head = header.method() == http::verb::head;
      const std::string method(header.method_string());
      const std::string path(header.target().substr(0, header.target().find('?')));
      bool keepAlive = header.keep_alive();

      Exchange exchange;
      if (beast::iequals(header[http::field::expect], "100-continue")) {
        http::response<http::empty_body> proceed{http::status::continue_, version};
        co_await http::async_write(stream, proceed, kNoThrow);
      }
      boost::system::error_code bodyError;
      if (!parser.is_done()) {
        std::tie(bodyError, std::ignore) =
            co_await http::async_read(stream, buffer, parser, kNoThrow);
      }
      if (bodyError == http::error::body_limit) {  // chunked, past the limit
        exchange.reply = routes.bodyTooLarge();
      } else if (bodyError == http::error::buffer_overflow ||
                 bodyError == http::error::header_limit) {
        // An endless chunk extension or trailer section.
        exchange.reply = {400, R"({"error":"chunk framing or trailers too long"})",
                          "chunk framing or trailers too long", 0, true};
      } else if (chunkLimits.exceeded) {
        exchange.reply = {400, R"({"error":"chunked body framing too long"})", chunkLimits.exceeded,
                          0, true};
      } else if (malformedHttp(bodyError)) {
        exchange.reply = {400, R"({"error":"malformed HTTP body framing"})",
                          "malformed body framing: " + bodyError.message(), 0, true};
      } else if (bodyError) {
        if (admitRejectionLog(0)) {  // no answer: one budget for all of these
          log::warn("request body not received",
                    {{"remote", remote}, {"path", path}, {"error", bodyError.message()}});
        }
        break;
      } else {
        exchange = co_await dispatch(parser.release());
      }

      keepAlive = keepAlive && !exchange.reply.closeConnection && !stopping;
      co_await write(stream, exchange.reply, version, keepAlive, head);
      logExchange(exchange, method, path, remote, started);
      if (!keepAlive) {
        linger = exchange.reply.closeConnection;
        break;
      }
    }

    if (linger) {
      co_await lingeringClose(stream);
    } else {
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
    }
    state->stream = nullptr;
    {
      std::lock_guard lock(mutex);
      sessions.remove(state);
    }
    if (--active == 0 && stopping) {
      asio::post(strand, [self] { self->deadline.cancel(); });
    }
  }

  // The answer to a request refused while its header was read, when it gets one.
  std::optional<Reply> headerRejection(const boost::system::error_code& ec) const {
    auto refusal = readRefusal(ec);
    if (!refusal) return std::nullopt;
    if (refusal->status == 413) return routes.bodyTooLarge();  // it names the limit
    return Reply{refusal->status, R"({"error":")" + std::string(refusal->error) + R"("})",
                 std::move(refusal->reason)};
  }

  // Counts what a chunked body spends on framing; past a cap the parser
  // stops (bad_chunk_extension) and `exceeded` says which, for the 400.
  struct ChunkLimits {
    ChunkLimits() = default;
    ChunkLimits(const ChunkLimits&) = delete;  // the callback points at this one
    ChunkLimits& operator=(const ChunkLimits&) = delete;
    std::size_t extensionBytes = 0;
    std::size_t chunks = 0;
    const char* exceeded = nullptr;
    std::function<void(std::uint64_t, beast::string_view, boost::system::error_code&)> callback =
        [this](std::uint64_t size, beast::string_view extensions, boost::system::error_code& ec) {
          extensionBytes += extensions.size();
          chunks += size > 0;  // the last chunk (size 0) ends the body: not counted
          if (extensionBytes > kMaxChunkExtensionBytes) {
            exceeded = "chunk extensions over 1 KiB";
          } else if (chunks > kMaxChunks) {
            exceeded = "more than 16384 chunks";
          }
          if (exceeded) ec = http::error::bad_chunk_extension;
        };
  };

  asio::awaitable<Exchange> dispatch(http::request<http::string_body> request) {
    auto decision = routes.handle({.method = request.method_string(),
                                   .target = request.target(),
                                   .stripeSignature = request["Stripe-Signature"],
                                   .body = std::move(request.body())});
    if (auto* reply = std::get_if<Reply>(&decision)) co_return Exchange{std::move(*reply), {}, {}};
    auto& event = std::get<StoreAction>(decision).event;
    Exchange exchange{{}, event.envelope.id, event.envelope.type};
    const auto outcome = co_await asyncStore(writer, std::move(event), asio::use_awaitable);
    exchange.reply = PublicRoutes::afterStore(outcome);
    co_return exchange;
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, const Reply& reply, unsigned version,
                              bool keepAlive, bool head) {
    auto res = toResponse(reply, version, keepAlive, head);
    stream.expires_after(options.readTimeout);
    co_await http::async_write(stream, res, kNoThrow);
  }

  asio::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLingerTime);
    std::array<char, std::size_t{16} * 1024> scratch{};
    for (std::size_t drained = 0; drained < kLingerBytes;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kNoThrow);
      if (ec) break;
      drained += n;
    }
    stream.socket().close(ignored);
  }

  static void logExchange(const Exchange& exchange, const std::string& method,
                          const std::string& path, const std::string& remote,
                          std::chrono::steady_clock::time_point started) {
    const auto& reply = exchange.reply;
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    const bool webhook = path == kWebhookPath;
    if (webhook) countWebhook(reply, static_cast<double>(micros) / 1e6);
    const auto level = reply.status >= 400 ? log::Level::Warn
                       : webhook           ? log::Level::Info
                                           : log::Level::Debug;
    // A client's own mistakes, at a client's rate: throttled. Our 5xx never are.
    if (reply.status >= 400 && reply.status < 500 && !admitRejectionLog(reply.status)) return;
    log::write(level, "request",
               {{"method", method},
                {"path", path},
                {"status", reply.status},
                {"reason", reply.reason},
                {"event_id", exchange.eventId},
                {"event_type", exchange.eventType},
                {"duration_ms", static_cast<double>(micros) / 1000.0},
                {"remote", remote}});
  }

  void shutdown(std::chrono::seconds grace) {
    if (stopping.exchange(true)) return;
    routes.startDraining();
    auto self = shared_from_this();
    asio::post(strand, [self, grace] {
      boost::system::error_code ignored;
      self->acceptor.close(ignored);
      self->forEachSession([](SessionState& s) {
        if (s.stream && s.phase != SessionState::Phase::Busy) s.stream->cancel();
      });
      if (self->active.load() == 0) return;
      self->deadline.expires_after(grace);
      self->deadline.async_wait([self](boost::system::error_code ec) {
        if (ec) return;  // every session finished in time
        log::warn("shutdown deadline passed; closing open connections",
                  {{"connections", self->active.load()}});
        self->forEachSession([](SessionState& s) {
          boost::system::error_code ignored;
          if (s.stream) s.stream->socket().close(ignored);
        });
      });
    });
  }

  // Runs `f` on each session's own strand.
  template <typename F>
  void forEachSession(F f) {
    std::lock_guard lock(mutex);
    for (auto& state : sessions) {
      // The session's stream is only touched on its strand; the state is kept
      // alive by this handler even if the session ends first.
      asio::post(state->executor, [state, f] { f(*state); });
    }
  }

  asio::io_context& ioc;
  Options options;
  PublicRoutes& routes;
  intake::IntakeWriter& writer;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  asio::steady_timer deadline;
  std::atomic<int> active{0};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::list<std::shared_ptr<SessionState>> sessions;
};

HttpServer::HttpServer(asio::io_context& ioc, Options options, PublicRoutes& routes,
                       intake::IntakeWriter& writer)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), routes, writer)) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  asio::co_spawn(impl_->strand, impl_->acceptLoop(), asio::detached);
}

void HttpServer::shutdown(std::chrono::seconds deadline) {
  impl_->shutdown(deadline);
}

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace effectd::daemon
