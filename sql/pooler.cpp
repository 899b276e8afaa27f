#include "sql/pooler.hpp"

#include <postgresql/libpq-fe.h>

#include <cctype>
#include <memory>
#include <vector>

namespace effectd::sql {
namespace {

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Host names compare without case and without a trailing dot.
std::string canonicalHost(std::string_view host) {
  std::string h(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return h;
}

// Takes `name=value` out of a postgres:// URI's query and returns the value
// ("" when absent). The query starts at the first '?' after the authority
// (a password may hold '?'); the URL is left byte for byte as it was unless
// the parameter is there. A key=value string is never rewritten.
std::string takeQueryParameter(std::string& url, std::string_view name) {
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) return {};
  // The authority ends at the first '/' after the last '@' before it; the
  // query may hold '@' itself (application_name=a@b).
  const auto scheme = url.find("://") + 3;
  auto slash = url.find('/', scheme);
  auto at = url.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  if (at != std::string::npos && at < scheme) at = std::string::npos;
  const auto query = url.find('?', at == std::string::npos ? scheme : at);
  if (query == std::string::npos) return {};
  std::string kept;
  std::string value;
  bool found = false;
  std::string_view rest(url);
  rest.remove_prefix(query + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      found = true;
      value = eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
      continue;
    }
    if (!kept.empty()) kept += '&';
    kept += pair;
  }
  if (!found) return {};
  url.resize(query);
  if (!kept.empty()) url += "?" + kept;
  return value;
}

struct HostPort {
  std::string host;  // canonical: lower case, no trailing dot
  std::string port;
};

// Every host:port of a (possibly multi-host) URL or key=value string, read
// by libpq's own parser; none when it cannot parse it (libpq reports that
// when it connects).
std::vector<HostPort> hostsOf(const std::string& url) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &error), PQconninfoFree);
  PQfreemem(error);
  if (!options) return {};
  std::string hosts;
  std::string ports;
  for (auto* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string_view(o->keyword) == "host") hosts = o->val;
    if (std::string_view(o->keyword) == "port") ports = o->val;
  }
  std::vector<HostPort> out;
  std::string_view h(hosts);
  std::string_view p(ports);
  while (!h.empty()) {
    const auto comma = h.find(',');
    const auto pcomma = p.find(',');
    const auto port = p.substr(0, pcomma);
    out.push_back({canonicalHost(h.substr(0, comma)), port.empty() ? "5432" : std::string(port)});
    h = comma == std::string_view::npos ? std::string_view() : h.substr(comma + 1);
    // One port for all hosts, or one each.
    if (pcomma != std::string_view::npos) p = p.substr(pcomma + 1);
  }
  return out;
}

}  // namespace

PoolerDecision decidePooler(std::string_view url, std::string_view setting) {
  PoolerDecision d{.url = std::string(url)};
  const auto prismaFlag = takeQueryParameter(d.url, "pgbouncer");
  if (setting == "transaction" || setting == "none") {
    d.transactionPooler = setting == "transaction";
    d.reason = "DATABASE_POOLER=" + std::string(setting);
    return d;
  }
  if (prismaFlag == "true") {
    d.transactionPooler = true;
    d.reason = "DATABASE_URL has pgbouncer=true (Prisma's flag for a transaction pooler)";
    return d;
  }
  d.reason = "DATABASE_POOLER=auto found no pooler in DATABASE_URL";
  for (const auto& [host, port] : hostsOf(d.url)) {
    if (endsWith(host, ".pooler.supabase.com") && port == "6543") {
      d.transactionPooler = true;
      d.reason = "DATABASE_URL is Supabase's transaction pooler (port 6543)";
    } else if (host.find("-pooler.") != std::string::npos && endsWith(host, ".neon.tech")) {
      d.transactionPooler = true;
      d.reason = "DATABASE_URL is a Neon -pooler host";
    }
    if (d.transactionPooler) break;
  }
  return d;
}

}  // namespace effectd::sql
