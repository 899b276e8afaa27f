#include "daemon/http_post.hpp"

namespace effectd::daemon {

HttpAnswer httpCall(const HttpCall& call) {
  const queue::HttpClient client({
      .connectTimeout = call.timeout,
      .requestTimeout = call.timeout,
      .maxIdlePerOrigin = 0,
      // Admin listings and /metrics of a big queue run past a provider's answer.
      .maxResponseBody = std::size_t{16} * 1024 * 1024,
  });
  queue::HttpRequest request;
  request.method = call.method;
  request.url = http::Url{.tls = false, .host = call.host, .port = call.port, .path = ""};
  request.target = call.target;
  request.headers = call.headers;
  request.body = call.body;
  return client.send(request);
}

}  // namespace effectd::daemon
