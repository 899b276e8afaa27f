// The public HTTP/1.1 listener: Beast on Asio, one coroutine and one strand
// per connection, limits on everything a client controls.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}

namespace effectd::intake {
class IntakeWriter;
}

namespace effectd::daemon {

class PublicRoutes;

class HttpServer {
 public:
  struct Options {
    config::ListenAddress listen;
    std::size_t maxBodyBytes = 1024 * 1024;
    std::size_t maxHeaderBytes = 16 * 1024;
    int maxConnections = 1024;
    std::chrono::seconds readTimeout{10};
    std::chrono::seconds idleTimeout{60};
  };

  // Binds and listens; throws std::system_error when the address is taken.
  HttpServer(boost::asio::io_context& ioc, Options options, PublicRoutes& routes,
             intake::IntakeWriter& writer);
  ~HttpServer();

  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish;
  // connections still open after `deadline` are closed. Thread-safe.
  void shutdown(std::chrono::seconds deadline);
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace effectd::daemon
