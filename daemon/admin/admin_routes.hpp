// The admin listener's request handling without I/O: who may do what
// (token, CSRF), and which answer, database call or stream a request gets.
// Unit-testable; the database work itself is in admin_api.
//
//   GET  /metrics                          Prometheus text; the token only
//                                          when not bound to loopback (and
//                                          then a loopback Host, against DNS
//                                          rebinding)
//   GET  /admin/                           the live queue page (and its
//                                          script.js, style.css)
//   GET  /admin/api/stats                  depth per kind and status, rate
//   GET  /admin/api/effects[?status&kind&key_prefix&limit]
//   GET  /admin/api/effects/{id or key}
//   POST /admin/api/effects/{id or key}/retry|cancel
//   GET  /admin/api/events[?status&type&since&limit]
//   GET  /admin/api/events/{id}
//   POST /admin/api/events/{id}/replay
//   GET  /admin/api/transitions            server-sent events, as `effects tail`
//
// Everything under /admin/ needs the token (Bearer, or Basic with any user
// name, so a browser can sign in) and is 404 when none is configured.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "handlers/event_processor.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::daemon {

struct AdminRequest {
  std::string_view method;
  std::string_view target;
  std::string_view authorization;  // the header, empty when absent
  std::string_view origin;         // the Origin header, empty when absent
  std::string_view host;           // the Host header
  std::string_view contentType;
  std::string_view body;
};

struct AdminReply {
  unsigned status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::string reason;  // for the log line; never a secret
  std::vector<std::pair<std::string, std::string>> headers;
};

// Runs on the admin worker's thread.
using DatabaseCall = std::function<AdminReply(pqxx::connection_base&)>;
// Answered by the server from its cached read of the queue's figures.
struct MetricsAction {};
struct StatsAction {};
struct TransitionStream {};

using AdminDecision =
    std::variant<AdminReply, DatabaseCall, MetricsAction, StatsAction, TransitionStream>;

class AdminRoutes {
 public:
  struct Options {
    std::string token;             // empty: /admin/ is disabled
    bool loopback = true;          // /metrics without the token only then
    handlers::RetryPolicy replay;  // for events replayed from the API
  };
  explicit AdminRoutes(Options options);

  AdminDecision handle(const AdminRequest& request) const;

  static AdminReply unavailable(std::string_view reason);
  static AdminReply json(unsigned status, std::string body, std::string_view reason);

 private:
  bool authorized(std::string_view header) const;
  AdminDecision api(const AdminRequest& request, std::string_view path,
                    std::string_view query) const;

  Options options_;
  std::string tokenDigest_;  // SHA-256 of the token: compared in constant time
};

// Percent-decoding of a path segment or query value ('+' is a space in a
// query); nullopt for a malformed escape.
std::optional<std::string> percentDecode(std::string_view text, bool query);

}  // namespace effectd::daemon
