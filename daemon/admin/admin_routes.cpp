#include "daemon/admin/admin_routes.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "base/base64.hpp"
#include "base/hex.hpp"
#include "daemon/cli/operator_json.hpp"
#include "handlers/event_status.hpp"
#include "intake/stored_events.hpp"
#include "queue/effect_admin.hpp"
#include "queue/effect_status.hpp"
#include "queue/enqueue.hpp"

namespace effectd::embedded {
const std::vector<std::pair<std::string_view, std::string_view>>& adminPageFiles();
}

namespace effectd::daemon {
namespace {

using nlohmann::json;

constexpr std::string_view kApi = "/admin/api/";
constexpr int kMaxLimit = 1000;

// The page and its assets, compiled in (admin_page/): operators' networks
// are often closed, so nothing comes from a CDN.
const std::string_view* pageFile(std::string_view name) {
  for (const auto& [file, text] : embedded::adminPageFiles()) {
    if (file == name) return &text;
  }
  return nullptr;
}

std::string errorJson(std::string_view message) {
  return json{{"error", message}}.dump();
}

AdminReply notFound() {
  return AdminRoutes::json(404, errorJson("not found"), "not found");
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  std::string error;
  std::string get(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

Query parseQuery(std::string_view text) {
  Query q;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto key = percentDecode(part.substr(0, eq), true);
    auto value = percentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value) {
      q.error = "malformed query string";
      return q;
    }
    q.params.emplace_back(std::move(*key), std::move(*value));
  }
  return q;
}

// The query's `limit`, 1 to kMaxLimit (default 100); nullopt when invalid.
std::optional<int> limitOf(const Query& q) {
  const auto text = q.get("limit");
  if (text.empty()) return 100;
  int limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc{} || end != text.data() + text.size() || limit < 1 || limit > kMaxLimit) {
    return std::nullopt;
  }
  return limit;
}

AdminReply badRequest(std::string_view why) {
  return AdminRoutes::json(400, errorJson(why), why);
}

AdminDecision listEffects(const Query& q) {
  queue::EffectFilter filter{
      .status = q.get("status"), .kind = q.get("kind"), .keyPrefix = q.get("key_prefix")};
  if (!filter.status.empty() && !queue::parseEffectStatus(filter.status)) {
    return badRequest("unknown status");
  }
  if (!filter.kind.empty() && !queue::parseEffectKind(filter.kind))
    return badRequest("unknown kind");
  const auto limit = limitOf(q);
  if (!limit) return badRequest("limit must be 1 to 1000");
  filter.limit = *limit;
  return DatabaseCall([filter](pqxx::connection_base& conn) {
    json out = json::array();
    for (const auto& e : queue::listEffects(conn, filter)) out.push_back(toJson(e));
    return AdminRoutes::json(200, dump(out), "effects listed");
  });
}

AdminDecision showEffect(std::string idOrKey) {
  return DatabaseCall([idOrKey = std::move(idOrKey)](pqxx::connection_base& conn) {
    const auto found = queue::findEffect(conn, idOrKey);
    if (found.empty()) return notFound();
    return AdminRoutes::json(200, dump(toJson(found.front())), "effect shown");
  });
}

AdminDecision steerEffect(std::string idOrKey, queue::OperatorCommand command) {
  return DatabaseCall([idOrKey = std::move(idOrKey), command](pqxx::connection_base& conn) {
    const bool retry = command == queue::OperatorCommand::Retry;
    const int changed = queue::steerEffects(conn, {.idOrKey = idOrKey}, command);
    if (changed == 0) {
      if (queue::findEffect(conn, idOrKey).empty()) return notFound();
      return AdminRoutes::json(
          409,
          errorJson(retry
                        ? "only a dead, unknown or cancelled effect with its payload can be retried"
                        : "only a pending, dead or unknown effect can be cancelled"),
          retry ? "effect not retryable" : "effect not cancellable");
    }
    const auto found = queue::findEffect(conn, idOrKey);
    return AdminRoutes::json(200, found.empty() ? "{}" : dump(toJson(found.front())),
                             retry ? "effect retried" : "effect cancelled");
  });
}

AdminDecision listEvents(const Query& q) {
  intake::EventFilter filter{
      .status = q.get("status"), .type = q.get("type"), .since = q.get("since")};
  if (!filter.status.empty() && !handlers::parseEventStatus(filter.status)) {
    return badRequest("unknown status");
  }
  const auto limit = limitOf(q);
  if (!limit) return badRequest("limit must be 1 to 1000");
  filter.limit = *limit;
  return DatabaseCall([filter](pqxx::connection_base& conn) {
    pqxx::read_transaction tx(conn);
    json out = json::array();
    for (const auto& e : intake::selectEvents(tx, filter)) out.push_back(toJson(e));
    return AdminRoutes::json(200, dump(out), "events listed");
  });
}

AdminDecision showEvent(std::string id) {
  return DatabaseCall([id = std::move(id)](pqxx::connection_base& conn) {
    pqxx::read_transaction tx(conn);
    const auto events = intake::selectEvents(tx, {.id = id, .limit = 1, .withPayload = true});
    if (events.empty()) return notFound();
    return AdminRoutes::json(200, dump(toJson(events.front())), "event shown");
  });
}

AdminDecision replayEvent(std::string id, handlers::RetryPolicy policy) {
  return DatabaseCall([id = std::move(id), policy](pqxx::connection_base& conn) {
    std::vector<intake::StoredEvent> events;
    {
      pqxx::read_transaction tx(conn);
      events = intake::selectEvents(tx, {.id = id, .limit = 1, .withPayload = true});
    }
    if (events.empty()) return notFound();
    const auto& e = events.front();
    const auto outcome = handlers::replayEvent(conn, {&e.envelope, e.payload}, policy);
    return AdminRoutes::json(200,
                             dump({{"id", e.envelope.id},
                                   {"status", handlers::toString(outcome.status)},
                                   {"error", outcome.error}}),
                             "event replayed");
  });
}

// Splits "a/b/c" into its decoded segments; nullopt when one is malformed.
std::optional<std::vector<std::string>> segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    auto part = percentDecode(path.substr(0, slash), false);
    if (!part) return std::nullopt;
    out.push_back(std::move(*part));
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  return out;
}

// The page's headers: nothing from elsewhere, no framing, no inline script.
std::vector<std::pair<std::string, std::string>> pageHeaders() {
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
           "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "no-referrer"}};
}

// 127.x.x.x, [::1] or localhost, with or without a port; an empty Host
// (HTTP/1.0) too.
bool loopbackHost(std::string_view host) {
  if (host.empty()) return true;
  if (host.starts_with("[::1]")) return host.size() == 5 || host[5] == ':';
  const auto name = host.substr(0, host.find(':'));
  // An address, not a name that starts like one (127.example.com).
  return name == "localhost" || (name.starts_with("127.") &&
                                 name.find_first_not_of("0123456789.") == std::string_view::npos);
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && query) {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int value = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc{} || end != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

AdminRoutes::AdminRoutes(Options options)
    : options_(std::move(options)),
      tokenDigest_(options_.token.empty() ? std::string() : sha256Hex(options_.token)) {}

AdminReply AdminRoutes::json(unsigned status, std::string body, std::string_view reason) {
  return AdminReply{status, std::move(body), "application/json", std::string(reason), {}};
}

AdminReply AdminRoutes::unavailable(std::string_view reason) {
  auto reply = json(503, errorJson(reason), reason);
  reply.headers.emplace_back("Retry-After", "5");
  return reply;
}

bool AdminRoutes::authorized(std::string_view header) const {
  if (tokenDigest_.empty()) return false;
  std::string presented;
  const auto space = header.find(' ');
  if (space == std::string_view::npos) return false;
  const auto scheme = header.substr(0, space);
  auto credentials = header.substr(space + 1);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  // The scheme's case does not matter (RFC 9110 §11.1).
  auto is = [&](std::string_view name) {
    return scheme.size() == name.size() &&
           std::equal(scheme.begin(), scheme.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (is("bearer")) {
    presented = credentials;
  } else if (is("basic")) {
    // user:password, the password being the token; the user name is free.
    const auto decoded = base64Decode(credentials);
    if (!decoded) return false;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    presented = decoded->substr(colon + 1);
  } else {
    return false;
  }
  // Digests of equal length, compared in constant time: neither the token
  // nor its length leaks through timing.
  const auto digest = sha256Hex(presented);
  return CRYPTO_memcmp(digest.data(), tokenDigest_.data(), digest.size()) == 0;
}

AdminDecision AdminRoutes::handle(const AdminRequest& request) const {
  const auto question = request.target.find('?');
  const auto path = request.target.substr(0, question);
  const auto query =
      question == std::string_view::npos ? std::string_view() : request.target.substr(question + 1);
  const bool read = request.method == "GET" || request.method == "HEAD";

  if (path == "/metrics") {
    if (!read) return json(405, errorJson("method not allowed"), "method not allowed");
    if (authorized(request.authorization)) return MetricsAction{};
    if (!options_.loopback) {
      auto reply = json(401, errorJson("a bearer token is required"), "unauthorized");
      reply.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="effectd")");
      return reply;
    }
    // Without a token, only for a client that asked for a loopback name: a
    // web page that rebinds its own name to 127.0.0.1 sends that name.
    if (!loopbackHost(request.host)) {
      return json(403, errorJson("without a token, /metrics answers only Host 127.0.0.1 or ::1"),
                  "metrics: foreign Host");
    }
    return MetricsAction{};
  }
  if (path != "/admin" && !path.starts_with("/admin/")) return notFound();
  if (tokenDigest_.empty()) return notFound();  // the admin API is off
  if (!authorized(request.authorization)) {
    auto reply = json(401, errorJson("a valid token is required"), "unauthorized");
    // Basic lets a browser ask for the token (as the password) and send it
    // with every request of the page, its script and its event stream.
    reply.headers.emplace_back("WWW-Authenticate",
                               R"(Basic realm="effectd admin", charset="UTF-8")");
    reply.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="effectd admin")");
    return reply;
  }

  if (path == "/admin") {
    AdminReply reply{301, {}, "text/plain", "to the page", {{"Location", "/admin/"}}};
    return reply;
  }
  if (path.starts_with(kApi)) {
    if (!read) {
      // A browser that has signed in sends its Basic credentials with any
      // request to this origin, a forged cross-site one included. Such a
      // request has another Origin, and a cross-site page cannot send
      // JSON without a CORS preflight, which this listener never allows.
      if (!request.contentType.starts_with("application/json")) {
        return json(415, errorJson("actions take Content-Type: application/json"),
                    "csrf: content type");
      }
      if (!request.origin.empty() && request.origin != "http://" + std::string(request.host) &&
          request.origin != "https://" + std::string(request.host)) {
        return json(403, errorJson("cross-origin request refused"), "csrf: origin");
      }
    }
    // The analyzer loses the std::function inside the returned variant.
    // NOLINTNEXTLINE(clang-analyzer-cplusplus.NewDeleteLeaks)
    return api(request, path.substr(kApi.size()), query);
  }

  if (!read) return json(405, errorJson("method not allowed"), "method not allowed");
  const auto name = path == "/admin/"            ? std::string_view("page")
                    : path == "/admin/script.js" ? std::string_view("script")
                    : path == "/admin/style.css" ? std::string_view("style")
                                                 : std::string_view();
  const auto* file = name.empty() ? nullptr : pageFile(name);
  if (!file) return notFound();
  AdminReply reply{200, std::string(*file),
                   name == "page"     ? "text/html; charset=utf-8"
                   : name == "script" ? "text/javascript; charset=utf-8"
                                      : "text/css; charset=utf-8",
                   "page", pageHeaders()};
  return reply;
}

AdminDecision AdminRoutes::api(const AdminRequest& request, std::string_view path,
                               std::string_view queryText) const {
  const auto query = parseQuery(queryText);
  if (!query.error.empty()) return badRequest(query.error);
  const auto parts = segments(path);
  if (!parts || parts->empty()) return notFound();
  const auto& p = *parts;
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  auto methodNotAllowed = [] {
    return AdminRoutes::json(405, errorJson("method not allowed"), "method not allowed");
  };

  if (p[0] == "stats" && p.size() == 1) {
    return get ? AdminDecision(StatsAction{}) : methodNotAllowed();
  }
  if (p[0] == "transitions" && p.size() == 1) {
    // GET only: a HEAD would open a stream with a body.
    return request.method == "GET" ? AdminDecision(TransitionStream{}) : methodNotAllowed();
  }
  if (p[0] == "effects") {
    if (p.size() == 1) return get ? listEffects(query) : methodNotAllowed();
    if (p[1].empty()) return notFound();
    if (p.size() == 2) return get ? showEffect(p[1]) : methodNotAllowed();
    if (p.size() == 3 && (p[2] == "retry" || p[2] == "cancel")) {
      if (!post) return methodNotAllowed();
      return steerEffect(
          p[1], p[2] == "retry" ? queue::OperatorCommand::Retry : queue::OperatorCommand::Cancel);
    }
    return notFound();
  }
  if (p[0] == "events") {
    if (p.size() == 1) return get ? listEvents(query) : methodNotAllowed();
    if (p[1].empty()) return notFound();
    if (p.size() == 2) return get ? showEvent(p[1]) : methodNotAllowed();
    if (p.size() == 3 && p[2] == "replay") {
      return post ? replayEvent(p[1], options_.replay) : methodNotAllowed();
    }
    return notFound();
  }
  return notFound();
}

}  // namespace effectd::daemon
