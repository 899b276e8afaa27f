// One connection of an http::Listener: the state the accept loop and the
// session's coroutine share (which phase it is in, for the cap's choice of
// who gives way), and the Stream a site streams an answer on.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "base/metrics.hpp"
#include "http/site.hpp"

namespace effectd::http {

struct SessionState {
  enum class Phase {
    Idle,     // waiting for the first byte of a request: may be closed to make room
    Reading,  // a request's header is arriving
    Busy,     // a request is being read past its header, answered or streamed
  };
  // `idle` (optional) counts the listener's sessions in Phase::Idle.
  SessionState(boost::asio::any_io_executor executor, metrics::Gauge* idle)
      : executor(executor),
        wake(std::make_shared<boost::asio::steady_timer>(executor)),
        idle(idle) {
    if (idle) idle->add(1);
  }

  // Moves from `from` to `to` unless another thread moved it first (the
  // accept loop claiming it to make room: then it reads Busy, "closing").
  bool enter(Phase from, Phase to) {
    if (!phase.compare_exchange_strong(from, to)) return false;
    phaseSince = now();
    if (idle && from == Phase::Idle) idle->add(-1);
    if (idle && to == Phase::Idle) idle->add(1);
    return true;
  }
  // The session has ended: whatever its phase, it no longer counts as idle.
  void end() {
    if (phase.exchange(Phase::Busy) == Phase::Idle && idle) idle->add(-1);
  }
  static std::int64_t now() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

  boost::asio::any_io_executor executor;       // the session's strand
  boost::beast::tcp_stream* stream = nullptr;  // null once the session ended; on the strand only
  std::shared_ptr<boost::asio::steady_timer> wake;  // a stream's waitFor() waits on it
  std::atomic<Phase> phase{Phase::Idle};            // a new connection has sent nothing yet
  // When it entered its phase (steady clock, nanoseconds): the longest idle
  // (or, where reading may give way, the longest reading) goes first.
  std::atomic<std::int64_t> phaseSince{now()};
  metrics::Gauge* idle;
};

// The Stream a site's answer streams on: one session's connection. Its
// writes have `writeTimeout`, so a client that stops reading is let go.
class SessionStream final : public Stream {
 public:
  SessionStream(boost::beast::tcp_stream& stream, SessionState& state,
                const std::atomic<bool>& stopping, std::chrono::seconds writeTimeout,
                unsigned version)
      : stream_(stream),
        state_(state),
        stopping_(stopping),
        writeTimeout_(writeTimeout),
        version_(version) {}

  boost::asio::awaitable<bool> writeHeader(
      unsigned status, std::string_view contentType,
      const std::vector<std::pair<std::string, std::string>>& headers) override;
  boost::asio::awaitable<bool> write(std::string_view bytes) override;
  boost::asio::awaitable<bool> waitFor(std::chrono::milliseconds duration) override;
  std::function<void()> waker() override;
  bool stopping() const override { return stopping_; }

 private:
  boost::beast::tcp_stream& stream_;
  SessionState& state_;
  const std::atomic<bool>& stopping_;
  std::chrono::seconds writeTimeout_;
  unsigned version_;
};

}  // namespace effectd::http
