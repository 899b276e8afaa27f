// The admin listener (EFFECTD_ADMIN_LISTEN): /metrics, the JSON API and the
// live queue page, on the daemon's event loop. Its sessions only parse and
// write; everything that reads the database runs on the admin worker's
// thread, so a scrape or a page never blocks the webhooks' I/O threads, and
// its connections are few and bounded, apart from the public listener's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}

namespace effectd::queue {
class ChannelPauses;
}

namespace effectd::daemon {

class AdminRoutes;
class AdminWorker;
class TransitionFeed;

class AdminServer {
 public:
  struct Options {
    config::ListenAddress listen;
    int maxConnections = 32;
    int maxStreams = 8;  // open live pages
    std::size_t maxBodyBytes = 64 * 1024;
    std::size_t maxHeaderBytes = 16 * 1024;
    std::chrono::seconds readTimeout{10};
    std::chrono::seconds idleTimeout{60};
    std::chrono::seconds queueCacheFor{5};  // /metrics reads the queue's counts at most this often
    const queue::ChannelPauses* pauses = nullptr;  // effectd_channel_paused, when set
  };

  // Binds and listens; throws std::system_error when the address is taken.
  AdminServer(boost::asio::io_context& ioc, Options options, const AdminRoutes& routes,
              AdminWorker& worker, TransitionFeed& feed);
  ~AdminServer();

  void start();
  // Stops accepting and closes every connection (live pages included) after
  // the requests in flight, or at `deadline`.
  void shutdown(std::chrono::seconds deadline);
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace effectd::daemon
