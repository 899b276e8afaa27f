#include "config/config.hpp"

#include "config/settings.hpp"

#include "http/url.hpp"
#include "sql/pooler.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace effectd::config {
namespace {

std::string trim(std::string_view s) {
  const auto* ws = " \t\r\n";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(ws);
  return std::string(s.substr(first, last - first + 1));
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  return trim(content.str());
}

// Loads settings from the environment, collecting every problem instead of
// stopping at the first, so an operator fixes them all in one round.
class Loader {
 public:
  Loader(const Environment& env, std::vector<std::string>& problems)
      : env_(env), problems_(problems) {}

  std::optional<std::string> plain(std::string_view name) {
    auto v = env_(name);
    if (v && trim(*v).empty()) return std::nullopt;
    return v;
  }

  // A secret comes from NAME, NAME_FILE, or the systemd credential NAME.
  std::optional<std::string> secret(const std::string& name) {
    auto direct = plain(name);
    auto file = plain(name + "_FILE");
    if (direct && file) {
      problems_.push_back(name + " and " + name + "_FILE are both set; set only one");
      return std::nullopt;
    }
    if (direct) return direct;
    if (file) {
      auto content = readFile(*file);
      if (!content) problems_.push_back(name + "_FILE: cannot read " + *file);
      return content;
    }
    if (auto dir = plain("CREDENTIALS_DIRECTORY")) {
      if (auto content = readFile(*dir + "/" + name)) return content;
    }
    return std::nullopt;
  }

  template <typename Int>
  void integer(std::string_view name, Int& out, Int min, Int max) {
    auto v = plain(name);
    if (!v) return;
    Int parsed{};
    const auto text = trim(*v);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec != std::errc{} || end != text.data() + text.size() || parsed < min || parsed > max) {
      problems_.push_back(std::string(name) + ": expected a whole number from " +
                          std::to_string(min) + " to " + std::to_string(max) + ", got '" + text +
                          "'");
      return;
    }
    out = parsed;
  }

  void seconds(std::string_view name, std::chrono::seconds& out, long min, long max) {
    long value = static_cast<long>(out.count());
    integer(name, value, min, max);
    out = std::chrono::seconds(value);
  }

  void address(std::string_view name, ListenAddress& out) {
    auto v = plain(name);
    if (!v) return;
    const auto text = trim(*v);
    const auto colon = text.rfind(':');
    long port = -1;
    if (colon != std::string::npos) {
      auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
      if (ec != std::errc{} || end != text.data() + text.size()) port = -1;
    }
    if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
      problems_.push_back(std::string(name) + ": expected host:port, got '" + text + "'");
      return;
    }
    auto host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    out = ListenAddress{host, static_cast<std::uint16_t>(port)};
  }

  // The index of the value among `choices` ("a|b|c"); nullopt when unset or
  // not one of them (then a problem is recorded).
  std::optional<std::size_t> choice(std::string_view name, std::string_view choices) {
    auto v = plain(name);
    if (!v) return std::nullopt;
    const auto text = trim(*v);
    std::size_t index = 0;
    for (std::string_view rest = choices;; ++index) {
      const auto bar = rest.find('|');
      if (rest.substr(0, bar) == text) return index;
      if (bar == std::string_view::npos) break;
      rest.remove_prefix(bar + 1);
    }
    std::string names;
    for (char ch : choices) names += ch == '|' ? std::string(", ") : std::string(1, ch);
    problems_.push_back(std::string(name) + ": expected one of " + names + ", got '" + text + "'");
    return std::nullopt;
  }

  void problem(std::string text) { problems_.push_back(std::move(text)); }

 private:
  const Environment& env_;
  std::vector<std::string>& problems_;
};

std::vector<std::string> splitSecrets(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    if (auto item = trim(list.substr(start, end - start)); !item.empty()) {
      out.push_back(std::move(item));
    }
    start = end + 1;
  }
  return out;
}

// Webhook URLs come from payloads, so where they may lead is spelled out:
// host and port per scheme, and which internal addresses are reachable.
std::vector<std::string> hostList(Loader& in, const std::string& name, std::uint16_t defaultPort) {
  std::vector<std::string> out;
  for (const auto& entry : splitSecrets(in.plain(name).value_or(""))) {
    if (auto a = http::Authority::parse(entry, defaultPort)) {
      out.push_back(a->toString());
    } else {
      in.problem(std::string(name)
                     .append(": expected host or host:port ([v6]:port for IPv6), got '")
                     .append(entry)
                     .append("'"));
    }
  }
  return out;
}

std::vector<std::string> networkList(Loader& in, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& entry : splitSecrets(in.plain(name).value_or(""))) {
    if (auto network = http::IpNetwork::parse(entry)) {
      out.push_back(network->toString());
    } else {
      in.problem(
          std::string(name)
              .append(": expected addresses or networks such as 10.1.0.0/16, fd00::/8, got '")
              .append(entry)
              .append("'"));
    }
  }
  return out;
}

template <typename T>
T& field(Config& c, const SettingSpec& s) {
  return c.*std::get<T Config::*>(s.field);
}

// One setting from the environment into `c`, as its table row says.
void apply(Loader& in, const SettingSpec& s, Config& c) {
  const std::string name(s.name);
  switch (s.kind) {
    case SettingKind::Text:
      if (auto v = in.plain(name)) field<std::string>(c, s) = trim(*v);
      break;
    case SettingKind::Secret:
    case SettingKind::SecretUrl:
      if (auto v = in.secret(name)) field<std::string>(c, s) = *v;
      break;
    case SettingKind::SecretList:
      if (auto v = in.secret(name)) field<std::vector<std::string>>(c, s) = splitSecrets(*v);
      break;
    case SettingKind::Url: {
      auto& url = field<std::string>(c, s);
      if (auto v = in.plain(name)) url = trim(*v);
      // The parser the HTTP client uses: a URL it refuses must not start a
      // daemon whose every delivery would then fail.
      if (!http::Url::parse(url)) {
        in.problem(name + ": expected an http(s) URL, got '" + redactUrl(url) + "'");
      }
      break;
    }
    case SettingKind::Integer:
      if (std::holds_alternative<int Config::*>(s.field)) {
        in.integer(name, field<int>(c, s), static_cast<int>(s.min), static_cast<int>(s.max));
      } else {
        in.integer(name, field<std::size_t>(c, s), static_cast<std::size_t>(s.min),
                   static_cast<std::size_t>(s.max));
      }
      break;
    case SettingKind::Seconds:
      in.seconds(name, field<std::chrono::seconds>(c, s), s.min, s.max);
      break;
    case SettingKind::Milliseconds: {
      auto& out = field<std::chrono::milliseconds>(c, s);
      long ms = static_cast<long>(out.count());
      in.integer(name, ms, s.min, s.max);
      out = std::chrono::milliseconds(ms);
      break;
    }
    case SettingKind::Rate: {
      long perSecond = -1;
      in.integer(name, perSecond, s.min, s.max);
      if (perSecond >= 0) field<double>(c, s) = static_cast<double>(perSecond);
      break;
    }
    case SettingKind::Choice:
      if (const auto index = in.choice(name, s.choices)) {
        std::visit(
            [&](auto member) {
              using T = std::remove_cvref_t<decltype(c.*member)>;
              if constexpr (std::is_same_v<T, std::string>) {
                auto rest = s.choices;
                for (std::size_t i = 0; i < *index; ++i) rest.remove_prefix(rest.find('|') + 1);
                c.*member = std::string(rest.substr(0, rest.find('|')));
              } else if constexpr (std::is_enum_v<T>) {
                c.*member = static_cast<T>(*index);
              }
            },
            s.field);
      }
      break;
    case SettingKind::AddressOrOff:
      if (auto v = in.plain(name); v && trim(*v) == "off") {
        field<ListenAddress>(c, s) = {};
        break;
      }
      [[fallthrough]];
    case SettingKind::Address:
      in.address(name, field<ListenAddress>(c, s));
      break;
    case SettingKind::Hosts:
      field<std::vector<std::string>>(c, s) = hostList(in, name, 443);
      break;
    case SettingKind::HttpHosts:
      field<std::vector<std::string>>(c, s) = hostList(in, name, 80);
      break;
    case SettingKind::Networks:
      field<std::vector<std::string>>(c, s) = networkList(in, name);
      break;
  }
}

}  // namespace

bool ListenAddress::isLoopback() const {
  // Addresses only: the listener binds an address, never a name.
  return host == "::1" || host.starts_with("127.");
}

std::string ListenAddress::toString() const {
  if (!enabled()) return "off";
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Environment processEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    if (const char* v = std::getenv(key.c_str())) return std::string(v);
    return std::nullopt;
  };
}

LoadResult load(const Environment& env, Purpose purpose) {
  LoadResult result;
  Config& c = result.config;
  Loader in(env, result.problems);
  for (const auto& setting : settings()) apply(in, setting, c);

  // What one setting alone cannot say.
  if (c.databaseUrl.empty() && purpose != Purpose::Client) {
    in.problem("DATABASE_URL is required (a libpq URL such as postgresql://user@host/db)");
  }
  const auto pooler = sql::decidePooler(c.databaseUrl, c.databasePooler);
  c.databaseUrl = pooler.url;
  c.transactionPooler = pooler.transactionPooler;
  c.poolerReason = pooler.reason;
  if (c.transactionPooler) {
    result.notes.push_back("statements keep nothing on the server between transactions: " +
                           pooler.reason);
    if (c.databaseListenUrl.empty()) {
      result.notes.push_back(
          "DATABASE_LISTEN_URL is not set and DATABASE_URL goes through a transaction pooler, "
          "where LISTEN does not work: effects are found by polling every "
          "EFFECTD_POLL_INTERVAL_MS, and `effects tail` and the admin page's live view need "
          "DATABASE_LISTEN_URL");
    }
  } else if (c.databaseListenUrl.empty()) {
    c.databaseListenUrl = c.databaseUrl;
  }
  if (!c.databaseListenUrl.empty()) {
    const auto listen = sql::decidePooler(c.databaseListenUrl, "auto");
    c.databaseListenUrl = listen.url;
    if (listen.transactionPooler || (c.transactionPooler && c.databaseListenUrl == c.databaseUrl)) {
      // A LISTEN through the pooler would sit on whichever server connection
      // it got, and its notifications reach whoever holds that one next.
      c.databaseListenUrl.clear();
      result.notes.push_back(
          "DATABASE_LISTEN_URL goes through a transaction pooler, where LISTEN does not "
          "work: effects are found by polling every EFFECTD_POLL_INTERVAL_MS; set "
          "DATABASE_LISTEN_URL to a direct connection");
    }
  }
  for (const auto& secret : c.stripeWebhookSecrets) {
    if (secret.rfind("whsec_", 0) != 0) {
      in.problem("STRIPE_WEBHOOK_SECRET: every secret must start with whsec_ (one does not)");
      break;
    }
  }
  if (c.stripeWebhookSecrets.empty() && purpose != Purpose::DatabaseOnly) {
    in.problem("STRIPE_WEBHOOK_SECRET is required (one or more whsec_... separated by commas)");
  }
  if (!c.adminToken.empty() && c.adminToken.size() < 16) {
    in.problem("EFFECTD_ADMIN_TOKEN: at least 16 characters (openssl rand -hex 16 makes one)");
  }
  if (c.adminListen.enabled() && !c.adminListen.isLoopback() && c.adminToken.empty()) {
    in.problem(
        "EFFECTD_ADMIN_LISTEN is not a loopback address, so /metrics needs a token: set "
        "EFFECTD_ADMIN_TOKEN, or listen on 127.0.0.1");
  }
  if (!c.smtpUrl.empty() && c.smtpUrl.rfind("smtp://", 0) != 0 &&
      c.smtpUrl.rfind("smtps://", 0) != 0) {
    in.problem("SMTP_URL: expected smtp://user:pass@host:587 or smtps://user:pass@host:465");
  }
  if (purpose == Purpose::Serve) {
    // The development channels mark effects sent without sending them: a
    // daemon started with defaults against a shared database (a laptop, a
    // canary) would eat its share of real emails. They must be chosen.
    const auto chosen = [&](const char* name, const char* choices) {
      const auto value = env(name);
      if (!value || value->empty()) {
        in.problem(std::string(name) + " is not set: choose " + choices +
                   " (serve does not pick a channel that sends nothing by itself)");
      }
    };
    chosen("EMAIL_PROVIDER",
           "resend, postmark or smtp, or file (writes .eml files, for development)");
    chosen("ANALYTICS_PROVIDER", "posthog or segment, or log (writes log lines, for development)");
    auto needs = [&](bool used, const std::string& value, const char* name) {
      if (used && value.empty()) {
        in.problem(std::string(name) + " is required by the provider chosen");
      }
    };
    needs(c.emailProvider == "smtp", c.smtpUrl, "SMTP_URL");
    needs(c.emailProvider == "resend", c.resendApiKey, "RESEND_API_KEY");
    needs(c.emailProvider == "postmark", c.postmarkServerToken, "POSTMARK_SERVER_TOKEN");
    needs(c.analyticsProvider == "posthog", c.posthogApiKey, "POSTHOG_API_KEY");
    needs(c.analyticsProvider == "segment", c.segmentWriteKey, "SEGMENT_WRITE_KEY");
  }
  if (c.emailMaxPerSecond < 0) c.emailMaxPerSecond = c.emailProvider == "resend" ? 2 : 0;
  if (c.webhookMaxPerOrigin < 0) c.webhookMaxPerOrigin = std::max(1, c.drainConcurrency / 2);
  return result;
}

std::string redactUrl(std::string_view url) {
  std::string out(url);
  // scheme://user:password@host -> scheme://user:***@host, whatever the
  // scheme (postgresql, smtp, smtps, https). As libpq reads it, the userinfo
  // ends at the last '@' before the first '/': a password may hold '?' or '#'.
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto authorityStart = scheme + 3;
    const auto slash = std::min(out.find('/', authorityStart), out.size());
    const auto at = out.rfind('@', slash - 1);
    if (at != std::string::npos && at >= authorityStart) {
      const auto colon = out.find(':', authorityStart);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // key=value form (spaces around '=' allowed, the value quoted or not), and
  // password= in a URL's query string.
  static const std::regex keyValue(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&#]*))",
                                   std::regex::icase);
  return std::regex_replace(out, keyValue, "$1***");
}

std::vector<Setting> describe(const Config& c) {
  std::vector<Setting> out;
  for (const auto& setting : settings()) {
    out.push_back({std::string(setting.name), shownValue(c, setting)});
  }
  return out;
}

}  // namespace effectd::config
