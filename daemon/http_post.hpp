// A blocking HTTP/1.1 request with a deadline, for command-line tools
// (`effectd dev trigger`) and tests. Never used on the daemon's event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace effectd::daemon {

struct HttpCall {
  std::string host = "127.0.0.1";
  std::uint16_t port = 80;
  std::string method = "POST";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct HttpAnswer {
  int status = 0;  // 0 when no response arrived
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;  // why no response arrived
  std::string header(std::string_view name) const;
};

HttpAnswer httpCall(const HttpCall& call);

}  // namespace effectd::daemon
