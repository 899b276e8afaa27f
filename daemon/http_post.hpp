// One plain-HTTP request to a local listener with a deadline, for the
// command-line tools (`effectd dev trigger`) and the tests. It goes through
// the one client effectd has (queue::HttpClient), without a connection pool
// or an address policy. Blocking: never used on the daemon's event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "queue/http_client.hpp"

namespace effectd::daemon {

struct HttpCall {
  std::string host = "127.0.0.1";
  std::uint16_t port = 80;
  std::string method = "POST";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // for the connect, and again for the exchange
};

using HttpAnswer = queue::HttpResponse;  // status 0 and `error` when no response arrived

HttpAnswer httpCall(const HttpCall& call);

}  // namespace effectd::daemon
