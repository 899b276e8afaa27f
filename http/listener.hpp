// The HTTP/1.1 connection core both listeners share: the accept loop, the
// connection cap (the longest-idle connection gives way to a new one),
// read and idle timeouts, limits on header, body and chunk framing, the
// answer to a request refused while it was read, lingering close, and a
// shutdown that lets requests in flight finish until a deadline. One
// coroutine and one strand per connection, on the daemon's io_context.
// What a request means is its site's (http/site.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/service.hpp"

namespace boost::asio {
class io_context;
}

namespace effectd::http {

class Site;

class Listener final : public Service {
 public:
  struct Options {
    std::string host;        // an IP address
    std::uint16_t port = 0;  // 0: any free port
    std::string name;        // "public" or "admin", for the log
    std::size_t maxBodyBytes = 1024 * 1024;
    std::size_t maxHeaderBytes = 16 * 1024;
    int maxConnections = 1024;
    int backlog = 128;
    std::chrono::seconds readTimeout{10};
    std::chrono::seconds idleTimeout{60};
    // At the cap, when no connection is idle, the one reading a header the
    // longest gives way too (the admin listener: a few slow clients must not
    // lock Prometheus out for the read timeout).
    bool readersGiveWay = false;
  };

  // Binds and listens; throws std::system_error when the address is taken.
  // The site lives as long as the last connection.
  Listener(boost::asio::io_context& ioc, Options options, std::shared_ptr<Site> site);
  ~Listener() override;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accepts, on the io_context's threads.
  void start() override;
  // Stops accepting, closes idle connections, ends streams, lets requests
  // in flight finish; connections still open at `deadline` are closed.
  // Thread-safe; the first call counts.
  void beginStop(Clock::time_point deadline) override;
  // Nothing to join: the sessions end on the io_context's threads, which
  // their own service joins.
  void stop() override;
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace effectd::http
