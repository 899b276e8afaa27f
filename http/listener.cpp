#include "http/listener.hpp"

#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <optional>

#include "base/log.hpp"
#include "base/log_throttle.hpp"
#include "base/metrics.hpp"
#include "http/chunk_limits.hpp"
#include "http/read_refusal.hpp"
#include "http/session.hpp"
#include "http/site.hpp"

namespace effectd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// After answering a request whose body we refuse to read, keep reading (and
// discarding) briefly before closing: closing a socket with unread data sends
// a reset, which can destroy our response before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = std::size_t{256} * 1024;

// Past a request's header, bytes that are neither header nor body (a chunk
// size line and its extensions, trailers) must fit in this much beyond the
// header limit; without a bound they grow the buffer for the whole read
// timeout on every connection.
constexpr std::size_t kFramingSlack = std::size_t{8} * 1024;

// Connections refused at the cap are logged at most this often, with a count.
constexpr auto kRefusedLogEvery = std::chrono::seconds(10);

bhttp::response<bhttp::string_body> toResponse(const Answer& answer, unsigned version,
                                               bool keepAlive, bool head) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(answer.status), version};
  res.set(bhttp::field::server, "effectd");
  res.set(bhttp::field::content_type, answer.contentType);
  for (const auto& [name, value] : answer.headers) res.insert(name, value);
  res.keep_alive(keepAlive);
  res.body() = answer.body;
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

}  // namespace

struct Listener::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& ioc, Options options, std::shared_ptr<Site> ownedSite)
      : ioc(ioc),
        options(std::move(options)),
        owned(std::move(ownedSite)),
        site(*owned),
        strand(asio::make_strand(ioc)),
        acceptor(strand),
        deadline(strand),
        openGauge(metrics::registry().httpConnections.find(this->options.name)),
        idleGauge(metrics::registry().httpIdleConnections.find(this->options.name)) {
    const tcp::endpoint endpoint(asio::ip::make_address(this->options.host), this->options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(this->options.backlog);
    boundPort = acceptor.local_endpoint().port();
  }

  asio::awaitable<void> acceptLoop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) break;
        // EMFILE and friends: back off a little rather than spin.
        log::warn("accept failed", {{"listener", options.name}, {"error", ec.message()}});
        asio::steady_timer pause(strand, std::chrono::milliseconds(50));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      // At the cap, an idle kept-alive connection gives way to a new one;
      // only when every connection is in use is the new one refused.
      if (active.load() >= options.maxConnections && !closeOldestIdle()) {
        noteRefused();
        auto executor = socket.get_executor();
        asio::co_spawn(executor, refuse(std::move(socket)), asio::detached);
        continue;
      }
      ++active;
      if (openGauge) openGauge->add(1);
      auto state = std::make_shared<SessionState>(socket.get_executor(), idleGauge);
      {
        std::lock_guard lock(mutex);
        sessions.push_back(state);
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket), state), asio::detached);
    }
  }

  // On the acceptor's strand: the first refusal, then a count every few seconds.
  void noteRefused() {
    const auto now = std::chrono::steady_clock::now();
    ++refusedSinceLog;
    if (lastRefusedLog == std::chrono::steady_clock::time_point{} ||
        now - lastRefusedLog >= kRefusedLogEvery) {
      log::warn("connections refused: too many connections", {{"listener", options.name},
                                                              {"limit", options.maxConnections},
                                                              {"refused", refusedSinceLog}});
      lastRefusedLog = now;
      refusedSinceLog = 0;
    }
  }

  // Closes the session that has waited the longest without sending a byte
  // of a request: a kept-alive connection between requests, or a new one
  // that has sent nothing (a silent socket must not hold a slot Stripe
  // needs). Where the options allow, the one reading a header the longest
  // comes next. Its close is asynchronous, so the count may briefly pass the
  // cap by the connections accepted meanwhile.
  bool closeOldestIdle() {
    using Phase = SessionState::Phase;
    std::lock_guard lock(mutex);
    for (const auto phase : {Phase::Idle, Phase::Reading}) {
      if (phase == Phase::Reading && !options.readersGiveWay) break;
      for (;;) {
        std::shared_ptr<SessionState> oldest;
        for (auto& state : sessions) {
          if (state->phase != phase) continue;
          if (!oldest || state->phaseSince < oldest->phaseSince) oldest = state;
        }
        if (!oldest) break;
        // Claimed here, so no other accept picks the same one; the session
        // reads Busy as "closing". Lost to the session itself: look again.
        if (!oldest->enter(phase, Phase::Busy)) continue;
        asio::post(oldest->executor, [oldest] {
          if (oldest->stream) oldest->stream->cancel();
        });
        log::debug("closing a connection to make room", {{"listener", options.name},
                                                         {"limit", options.maxConnections},
                                                         {"idle", phase == Phase::Idle}});
        return true;
      }
    }
    return false;
  }

  asio::awaitable<void> refuse(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(5));
    auto answer = site.full();
    answer.closeConnection = true;
    auto res = toResponse(answer, 11, false, false);
    co_await bhttp::async_write(stream, res, kNoThrow);
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
        state->enter(SessionState::Phase::Busy, SessionState::Phase::Idle);
      }
      if (buffer.size() == 0) {
        if (!first) stream.expires_after(options.idleTimeout);
        auto [idleError, n] = co_await stream.async_read_some(
            buffer.prepare(std::min<std::size_t>(4096, buffer.max_size())), kNoThrow);
        buffer.commit(n);
        if (idleError) break;
      }
      // Lost the race to closeOldestIdle(): this connection is being closed.
      if (!state->enter(SessionState::Phase::Idle, SessionState::Phase::Reading)) break;
      if (!first) stream.expires_after(options.readTimeout);  // the whole request
      first = false;
      ChunkLimits chunkLimits;  // outlives the parser, which keeps a reference
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.maxHeaderBytes));
      parser.body_limit(options.maxBodyBytes);
      parser.on_chunk_header(chunkLimits.callback);

      auto [readError, headerBytes] =
          co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
      if (readError) {
        if (auto refusal = readRefusal(readError)) {
          const auto target = parser.get().target();
          auto answer = site.refused(refusal->status, refusal->error, std::move(refusal->reason),
                                     std::string_view(target.data(), target.size()));
          answer.closeConnection = true;
          co_await write(stream, answer, 11, false, false);
          site.logged({}, std::string_view(target.data(), target.size()), answer, {}, remote,
                      false);
          linger = true;
        } else if (readError != bhttp::error::end_of_stream &&
                   readError != asio::error::operation_aborted &&
                   readError != beast::error::timeout) {
          log::debug(
              "connection closed",
              {{"listener", options.name}, {"remote", remote}, {"error", readError.message()}});
        }
        break;
      }
      if (!state->enter(SessionState::Phase::Reading, SessionState::Phase::Busy)) break;
      const auto started = std::chrono::steady_clock::now();
      const auto& header = parser.get();
      const auto version = header.version();
      const bool head = header.method() == bhttp::verb::head;
      const std::string method(header.method_string());
      const std::string target(header.target());
      bool keepAlive = header.keep_alive();

      if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, version};
        co_await bhttp::async_write(stream, proceed, kNoThrow);
      }
      boost::system::error_code bodyError;
      if (!parser.is_done()) {
        std::tie(bodyError, std::ignore) =
            co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      }
      Site::Outcome outcome;
      if (bodyError == bhttp::error::body_limit) {  // chunked, past the limit
        outcome.answer = site.refused(413, "request body too large", "body too large", target);
      } else if (bodyError == bhttp::error::buffer_overflow ||
                 bodyError == bhttp::error::header_limit) {
        // An endless chunk extension or trailer section.
        outcome.answer = site.refused(400, "chunk framing or trailers too long",
                                      "chunk framing or trailers too long", target);
      } else if (chunkLimits.exceeded) {
        outcome.answer =
            site.refused(400, "chunked body framing too long", chunkLimits.exceeded, target);
      } else if (malformedHttp(bodyError)) {
        outcome.answer = site.refused(400, "malformed HTTP body framing",
                                      "malformed body framing: " + bodyError.message(), target);
      } else if (bodyError) {
        if (lostBodyLog.admitReporting(0, "request bodies not received, not logged one by one")) {
          log::warn("request body not received", {{"listener", options.name},
                                                  {"remote", remote},
                                                  {"path", target.substr(0, target.find('?'))},
                                                  {"error", bodyError.message()}});
        }
        break;
      } else {
        SessionStream out(stream, *state, stopping, options.readTimeout, version);
        outcome = co_await site.serve(parser.release(), out);
      }
      if (bodyError) outcome.answer.closeConnection = true;

      const auto since = [&] {
        return std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started);
      };
      if (outcome.streamed) {
        site.logged(method, target, outcome.answer, since(), remote, true);
        break;
      }
      keepAlive = keepAlive && !outcome.answer.closeConnection && !stopping;
      co_await write(stream, outcome.answer, version, keepAlive, head);
      site.logged(method, target, outcome.answer, since(), remote, true);  // the write included
      if (!keepAlive) {
        // Only a body left unread needs the lingering close.
        linger = static_cast<bool>(bodyError);
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
    state->end();
    if (openGauge) openGauge->add(-1);
    {
      std::lock_guard lock(mutex);
      sessions.remove(state);
    }
    if (--active == 0 && stopping) {
      asio::post(strand, [self] { self->deadline.cancel(); });
    }
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, const Answer& answer, unsigned version,
                              bool keepAlive, bool head) {
    auto res = toResponse(answer, version, keepAlive, head);
    stream.expires_after(options.readTimeout);
    co_await bhttp::async_write(stream, res, kNoThrow);
  }

  static asio::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
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

  void shutdown(Service::Clock::time_point grace) {
    if (stopping.exchange(true)) return;
    site.draining();
    auto self = shared_from_this();
    asio::post(strand, [self, grace] {
      boost::system::error_code ignored;
      self->acceptor.close(ignored);
      self->forEachSession([](SessionState& s) {
        // A stream ends now; an idle connection too; a request in flight
        // finishes first.
        s.wake->cancel();
        if (s.stream && s.phase != SessionState::Phase::Busy) s.stream->cancel();
      });
      if (self->active.load() == 0) return;
      self->deadline.expires_at(grace);
      self->deadline.async_wait([self](boost::system::error_code ec) {
        if (ec) return;  // every session finished in time
        log::warn("shutdown deadline passed; closing open connections",
                  {{"listener", self->options.name}, {"connections", self->active.load()}});
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
  std::shared_ptr<Site> owned;
  Site& site;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  asio::steady_timer deadline;
  std::atomic<int> active{0};
  std::uint16_t boundPort = 0;  // kept from the bind: the acceptor closes at stop
  metrics::Gauge* openGauge;    // null for a listener name the registry does not know
  metrics::Gauge* idleGauge;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::list<std::shared_ptr<SessionState>> sessions;
  int refusedSinceLog = 0;  // on the acceptor's strand
  // A body a client stops sending gets no answer, and a line at a client's
  // rate: throttled.
  log::LogThrottle lostBodyLog{20};
  std::chrono::steady_clock::time_point lastRefusedLog{};
};

Listener::Listener(asio::io_context& ioc, Options options, std::shared_ptr<Site> site)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), std::move(site))) {}

Listener::~Listener() {
  stop();
}

void Listener::start() {
  asio::co_spawn(impl_->strand, impl_->acceptLoop(), asio::detached);
}

void Listener::beginStop(Clock::time_point deadline) {
  impl_->shutdown(deadline);
}

void Listener::stop() {
  // The sessions end on the io_context's threads. For a listener never
  // shut down, the acceptor's close is posted to its strand like any
  // shutdown's: an io thread may still run it (stopped before the event
  // loop); without one, the port is released with the io_context.
  impl_->shutdown(Clock::now());
}

std::uint16_t Listener::port() const {
  return impl_->boundPort;
}

}  // namespace effectd::http
