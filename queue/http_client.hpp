// The one HTTP(S) client every provider channel uses. Blocking, for the
// drainer's delivery threads (never an event-loop thread), with a deadline on
// every step. Connections are kept alive and reused per origin (scheme, host,
// port), so a busy queue does not pay a TCP and TLS handshake per effect.
// TLS always verifies the certificate chain and the host name;
// EFFECTD_CA_FILE adds a CA (a private one, or a test's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/url.hpp"

namespace effectd::queue {

class DeliveryAbort;

using http::AddressPolicy;
using http::Authority;
using http::Url;

struct HttpRequest {
  std::string method = "POST";
  Url url;
  std::string target;  // appended to url.path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The provider deduplicates this request (an idempotency handle), so when
  // a reused keep-alive connection turns out to have been closed by the
  // server, the request may be sent again on a new one. A request that is
  // not replayable reports mayHaveBeenSent instead.
  bool replayable = false;
  // Borrowed for the call. None: any address, for the providers the operator
  // configured; URLs that come from payloads need one.
  const AddressPolicy* addressPolicy = nullptr;
};

struct HttpResponse {
  int status = 0;  // 0: no response
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;             // why there is no response
  bool mayHaveBeenSent = false;  // the request left (in part) before the failure
  bool addressRefused = false;   // the address policy refused every address: nothing was sent
  std::string header(std::string_view name) const;
};

class HttpClient {
 public:
  struct Options {
    std::string caFile;  // extra trusted CA bundle, PEM
    std::chrono::milliseconds connectTimeout{5000};
    std::chrono::milliseconds requestTimeout{15000};
    // Idle connections are closed after this long, before most servers'
    // keep-alive timeouts (nginx 75 s, load balancers 60 s) close them first.
    std::chrono::milliseconds idleTimeout{20000};
    std::size_t maxIdlePerOrigin = 64;  // 0: a connection per request
    // A longer answer is an error (`read: body limit exceeded`): providers
    // answer in bytes, and a hostile one must not grow the daemon.
    std::size_t maxResponseBody = std::size_t{1024} * 1024;
    std::shared_ptr<DeliveryAbort> abort;  // optional: a stopping daemon cuts calls short
  };
  explicit HttpClient(Options options);  // throws when the CA file cannot be read
  ~HttpClient();
  // Thread-safe: callers on several threads share the connection pool.
  HttpResponse send(const HttpRequest& request) const;
  std::size_t idleConnections() const;  // for tests and metrics

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace effectd::queue
