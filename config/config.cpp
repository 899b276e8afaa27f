#include "config/config.hpp"

#include "handlers/event_processor.hpp"
#include "queue/http_client.hpp"

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

  template <typename Enum>
  void choice(std::string_view name, Enum& out,
              std::initializer_list<std::pair<std::string_view, Enum>> options) {
    auto v = plain(name);
    if (!v) return;
    const auto text = trim(*v);
    std::string names;
    for (const auto& [label, value] : options) {
      if (text == label) {
        out = value;
        return;
      }
      names += (names.empty() ? "" : ", ") + std::string(label);
    }
    problems_.push_back(std::string(name) + ": expected one of " + names + ", got '" + text + "'");
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
void webhookTargets(Loader& in, Config& c) {
  auto hosts = [&](const char* name, std::uint16_t defaultPort, std::vector<std::string>& out) {
    for (const auto& entry : splitSecrets(in.plain(name).value_or(""))) {
      if (auto a = queue::Authority::parse(entry, defaultPort)) {
        out.push_back(a->toString());
      } else {
        in.problem(std::string(name) + ": expected host or host:port ([v6]:port for IPv6), got '" +
                   entry + "'");
      }
    }
  };
  hosts("WEBHOOK_ALLOWED_HOSTS", 443, c.webhookAllowedHosts);
  hosts("WEBHOOK_ALLOW_HTTP_HOSTS", 80, c.webhookAllowHttpHosts);
  for (const auto& entry : splitSecrets(in.plain("WEBHOOK_ALLOW_PRIVATE_ADDRESSES").value_or(""))) {
    if (auto network = queue::IpNetwork::parse(entry)) {
      c.webhookAllowPrivateAddresses.push_back(network->toString());
    } else {
      std::string problem =
          "WEBHOOK_ALLOW_PRIVATE_ADDRESSES: expected addresses or networks such as 10.1.0.0/16, "
          "fd00::/8, got '";
      problem += entry;
      problem += "'";
      in.problem(problem);
    }
  }
}

}  // namespace

bool ListenAddress::isLoopback() const {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
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

  if (auto url = in.secret("DATABASE_URL")) {
    c.databaseUrl = *url;
  } else if (purpose != Purpose::Client) {
    in.problem("DATABASE_URL is required (a libpq URL such as postgresql://user@host/db)");
  }
  c.databaseListenUrl = in.secret("DATABASE_LISTEN_URL").value_or(c.databaseUrl);
  in.integer("EFFECTD_DB_POOL_SIZE", c.databasePoolSize, 1, 256);

  if (auto secrets = in.secret("STRIPE_WEBHOOK_SECRET")) {
    c.stripeWebhookSecrets = splitSecrets(*secrets);
    for (const auto& s : c.stripeWebhookSecrets) {
      if (s.rfind("whsec_", 0) != 0) {
        in.problem("STRIPE_WEBHOOK_SECRET: every secret must start with whsec_ (one does not)");
        break;
      }
    }
  }
  if (c.stripeWebhookSecrets.empty() && purpose != Purpose::DatabaseOnly) {
    in.problem("STRIPE_WEBHOOK_SECRET is required (one or more whsec_... separated by commas)");
  }
  in.seconds("STRIPE_WEBHOOK_TOLERANCE", c.stripeTolerance, 1, 86400);
  in.choice("STRIPE_LIVEMODE", c.livemode,
            {{"any", LivemodePolicy::Any},
             {"test", LivemodePolicy::Test},
             {"live", LivemodePolicy::Live}});

  in.address("EFFECTD_LISTEN", c.listen);
  if (auto admin = in.plain("EFFECTD_ADMIN_LISTEN"); admin && trim(*admin) == "off") {
    c.adminListen = {};  // no admin listener
  } else {
    in.address("EFFECTD_ADMIN_LISTEN", c.adminListen);
  }
  c.adminToken = in.secret("EFFECTD_ADMIN_TOKEN").value_or("");
  if (c.adminListen.enabled() && !c.adminListen.isLoopback() && c.adminToken.empty()) {
    in.problem("EFFECTD_ADMIN_LISTEN is not a loopback address, so /metrics needs a token: set "
               "EFFECTD_ADMIN_TOKEN, or listen on 127.0.0.1");
  }
  in.integer("EFFECTD_MAX_BODY_BYTES", c.maxBodyBytes, std::size_t{1024},
             std::size_t{64} * 1024 * 1024);
  in.integer("EFFECTD_MAX_HEADER_BYTES", c.maxHeaderBytes, std::size_t{1024},
             std::size_t{1024} * 1024);
  in.integer("EFFECTD_MAX_CONNECTIONS", c.maxConnections, 1, 1000000);
  in.seconds("EFFECTD_READ_TIMEOUT", c.readTimeout, 1, 3600);
  in.seconds("EFFECTD_IDLE_TIMEOUT", c.idleTimeout, 1, 3600);
  in.seconds("EFFECTD_SHUTDOWN_TIMEOUT", c.shutdownTimeout, 1, 3600);
  in.seconds("EFFECTD_DB_TIMEOUT", c.databaseTimeout, 1, 600);
  in.integer("EFFECTD_IO_THREADS", c.ioThreads, 1, 256);
  in.integer("EFFECTD_INTAKE_MAX_BATCH", c.intakeMaxBatch, std::size_t{1}, std::size_t{1000});
  in.integer("EFFECTD_INTAKE_MAX_QUEUE", c.intakeMaxQueue, std::size_t{1}, std::size_t{1000000});

  in.seconds("EFFECTD_EVENT_RETRY_BASE", c.eventRetryBase, 1, 86400);
  in.seconds("EFFECTD_EVENT_RETRY_MAX", c.eventRetryMax, 1, 7L * 86400);
  in.integer("EFFECTD_EVENT_MAX_ATTEMPTS", c.eventMaxAttempts, 1, 1000);
  long pollMs = static_cast<long>(c.eventRetryPoll.count());
  in.integer("EFFECTD_EVENT_RETRY_POLL_MS", pollMs, 10L, 3600L * 1000);
  c.eventRetryPoll = std::chrono::milliseconds(pollMs);

  in.choice("EMAIL_PROVIDER", c.emailProvider,
            {{"file", std::string("file")},
             {"resend", std::string("resend")},
             {"postmark", std::string("postmark")},
             {"smtp", std::string("smtp")}});
  c.smtpUrl = in.secret("SMTP_URL").value_or("");
  if (!c.smtpUrl.empty() && c.smtpUrl.rfind("smtp://", 0) != 0 &&
      c.smtpUrl.rfind("smtps://", 0) != 0) {
    in.problem("SMTP_URL: expected smtp://user:pass@host:587 or smtps://user:pass@host:465");
  }
  if (auto from = in.plain("EMAIL_FROM")) c.emailFrom = trim(*from);
  if (auto dir = in.plain("EMAIL_FILE_DIR")) c.emailFileDir = trim(*dir);
  in.choice("ANALYTICS_PROVIDER", c.analyticsProvider,
            {{"log", std::string("log")},
             {"posthog", std::string("posthog")},
             {"segment", std::string("segment")}});
  auto url = [&](const char* name, std::string& out) {
    if (auto v = in.plain(name)) out = trim(*v);
    // The parser the HTTP client uses: a URL it refuses must not start a
    // daemon whose every delivery would then fail.
    if (!queue::Url::parse(out)) {
      in.problem(std::string(name) + ": expected an http(s) URL, got '" + redactUrl(out) + "'");
    }
  };
  url("RESEND_API_URL", c.resendApiUrl);
  url("POSTMARK_API_URL", c.postmarkApiUrl);
  url("POSTHOG_HOST", c.posthogHost);
  url("SEGMENT_API_URL", c.segmentApiUrl);
  c.resendApiKey = in.secret("RESEND_API_KEY").value_or("");
  c.postmarkServerToken = in.secret("POSTMARK_SERVER_TOKEN").value_or("");
  c.posthogApiKey = in.secret("POSTHOG_API_KEY").value_or("");
  c.segmentWriteKey = in.secret("SEGMENT_WRITE_KEY").value_or("");
  c.webhookSigningSecret = in.secret("WEBHOOK_SIGNING_SECRET").value_or("");
  webhookTargets(in, c);
  if (auto ca = in.plain("EFFECTD_CA_FILE")) c.caFile = trim(*ca);
  in.seconds("EFFECTD_CONNECT_TIMEOUT", c.connectTimeout, 1, 300);
  in.seconds("EFFECTD_PROVIDER_TIMEOUT", c.providerTimeout, 1, 600);
  if (purpose == Purpose::Serve) {
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
  auto rate = [&](const char* name, double& out) {
    long perSecond = -1;
    in.integer(name, perSecond, 0L, 100000L);
    if (perSecond >= 0) out = static_cast<double>(perSecond);
  };
  rate("EMAIL_MAX_PER_SECOND", c.emailMaxPerSecond);
  if (c.emailMaxPerSecond < 0) c.emailMaxPerSecond = c.emailProvider == "resend" ? 2 : 0;
  rate("ANALYTICS_MAX_PER_SECOND", c.analyticsMaxPerSecond);
  rate("WEBHOOK_MAX_PER_SECOND", c.webhookMaxPerSecond);
  in.integer("EMAIL_MAX_CONCURRENCY", c.emailMaxConcurrency, 0, 1024);
  in.integer("ANALYTICS_MAX_CONCURRENCY", c.analyticsMaxConcurrency, 0, 1024);
  in.integer("WEBHOOK_MAX_CONCURRENCY", c.webhookMaxConcurrency, 0, 1024);
  in.integer("EFFECTD_DRAIN_CONCURRENCY", c.drainConcurrency, 1, 1024);
  in.integer("EFFECTD_DRAIN_BATCH", c.drainBatch, 1, 1000);
  in.seconds("EFFECTD_EFFECT_LEASE", c.effectLease, 5, 3600);
  long effectPollMs = static_cast<long>(c.pollInterval.count());
  in.integer("EFFECTD_POLL_INTERVAL_MS", effectPollMs, 10L, 3600L * 1000);
  c.pollInterval = std::chrono::milliseconds(effectPollMs);
  in.seconds("EFFECTD_EFFECT_RETRY_BASE", c.effectRetryBase, 1, 86400);
  in.seconds("EFFECTD_EFFECT_RETRY_MAX", c.effectRetryMax, 1, 7L * 86400);
  // Sent effects are what keeps a key from being sent again: they must
  // outlive Stripe's three days of retries of the event that caused them.
  in.integer("EFFECTD_RETENTION_DAYS", c.retentionDays, 4, 3650);

  in.choice("EFFECTD_LOG_FORMAT", c.logFormat,
            {{"json", LogFormat::Json}, {"text", LogFormat::Text}});
  if (auto level = in.plain("EFFECTD_LOG_LEVEL")) {
    static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error"};
    const auto text = trim(*level);
    bool known = false;
    for (auto l : levels) known = known || text == l;
    if (known) {
      c.logLevel = text;
    } else {
      in.problem("EFFECTD_LOG_LEVEL: expected one of trace, debug, info, warn, error, got '" +
                 text + "'");
    }
  }
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
  auto secretCount = [](std::size_t n) {
    return n == 0 ? std::string("(not set)") : "(" + std::to_string(n) + " set, redacted)";
  };
  auto joined = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
  };
  auto livemode = c.livemode == LivemodePolicy::Any    ? "any"
                  : c.livemode == LivemodePolicy::Test ? "test"
                                                       : "live";
  return {
      {"DATABASE_URL", redactUrl(c.databaseUrl)},
      {"DATABASE_LISTEN_URL", redactUrl(c.databaseListenUrl)},
      {"EFFECTD_DB_POOL_SIZE", std::to_string(c.databasePoolSize)},
      {"STRIPE_WEBHOOK_SECRET", secretCount(c.stripeWebhookSecrets.size())},
      {"STRIPE_WEBHOOK_TOLERANCE", std::to_string(c.stripeTolerance.count())},
      {"STRIPE_LIVEMODE", livemode},
      {"EFFECTD_LISTEN", c.listen.toString()},
      {"EFFECTD_ADMIN_LISTEN", c.adminListen.toString()},
      {"EFFECTD_ADMIN_TOKEN", secretCount(c.adminToken.empty() ? 0 : 1)},
      {"EFFECTD_MAX_BODY_BYTES", std::to_string(c.maxBodyBytes)},
      {"EFFECTD_MAX_HEADER_BYTES", std::to_string(c.maxHeaderBytes)},
      {"EFFECTD_MAX_CONNECTIONS", std::to_string(c.maxConnections)},
      {"EFFECTD_READ_TIMEOUT", std::to_string(c.readTimeout.count())},
      {"EFFECTD_IDLE_TIMEOUT", std::to_string(c.idleTimeout.count())},
      {"EFFECTD_SHUTDOWN_TIMEOUT", std::to_string(c.shutdownTimeout.count())},
      {"EFFECTD_DB_TIMEOUT", std::to_string(c.databaseTimeout.count())},
      {"EFFECTD_IO_THREADS", std::to_string(c.ioThreads)},
      {"EFFECTD_INTAKE_MAX_BATCH", std::to_string(c.intakeMaxBatch)},
      {"EFFECTD_INTAKE_MAX_QUEUE", std::to_string(c.intakeMaxQueue)},
      {"EFFECTD_EVENT_RETRY_BASE", std::to_string(c.eventRetryBase.count())},
      {"EFFECTD_EVENT_RETRY_MAX", std::to_string(c.eventRetryMax.count())},
      {"EFFECTD_EVENT_MAX_ATTEMPTS", std::to_string(c.eventMaxAttempts)},
      {"EFFECTD_EVENT_RETRY_POLL_MS", std::to_string(c.eventRetryPoll.count())},
      {"EMAIL_PROVIDER", c.emailProvider},
      {"EMAIL_FROM", c.emailFrom},
      {"EMAIL_FILE_DIR", c.emailFileDir},
      {"ANALYTICS_PROVIDER", c.analyticsProvider},
      {"EFFECTD_DRAIN_CONCURRENCY", std::to_string(c.drainConcurrency)},
      {"EFFECTD_DRAIN_BATCH", std::to_string(c.drainBatch)},
      {"EFFECTD_EFFECT_LEASE", std::to_string(c.effectLease.count())},
      {"EFFECTD_POLL_INTERVAL_MS", std::to_string(c.pollInterval.count())},
      {"EFFECTD_EFFECT_RETRY_BASE", std::to_string(c.effectRetryBase.count())},
      {"EFFECTD_EFFECT_RETRY_MAX", std::to_string(c.effectRetryMax.count())},
      {"EFFECTD_RETENTION_DAYS", std::to_string(c.retentionDays)},
      {"RESEND_API_KEY", secretCount(c.resendApiKey.empty() ? 0 : 1)},
      {"RESEND_API_URL", redactUrl(c.resendApiUrl)},
      {"POSTMARK_SERVER_TOKEN", secretCount(c.postmarkServerToken.empty() ? 0 : 1)},
      {"POSTMARK_API_URL", redactUrl(c.postmarkApiUrl)},
      {"POSTHOG_API_KEY", secretCount(c.posthogApiKey.empty() ? 0 : 1)},
      {"POSTHOG_HOST", redactUrl(c.posthogHost)},
      {"SEGMENT_WRITE_KEY", secretCount(c.segmentWriteKey.empty() ? 0 : 1)},
      {"SEGMENT_API_URL", redactUrl(c.segmentApiUrl)},
      {"WEBHOOK_ALLOWED_HOSTS", joined(c.webhookAllowedHosts)},
      {"WEBHOOK_ALLOW_HTTP_HOSTS", joined(c.webhookAllowHttpHosts)},
      {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", joined(c.webhookAllowPrivateAddresses)},
      {"WEBHOOK_SIGNING_SECRET", secretCount(c.webhookSigningSecret.empty() ? 0 : 1)},
      {"EFFECTD_CA_FILE", c.caFile},
      {"EFFECTD_CONNECT_TIMEOUT", std::to_string(c.connectTimeout.count())},
      {"EFFECTD_PROVIDER_TIMEOUT", std::to_string(c.providerTimeout.count())},
      {"EMAIL_MAX_PER_SECOND", std::to_string(static_cast<long>(c.emailMaxPerSecond))},
      {"EMAIL_MAX_CONCURRENCY", std::to_string(c.emailMaxConcurrency)},
      {"ANALYTICS_MAX_PER_SECOND", std::to_string(static_cast<long>(c.analyticsMaxPerSecond))},
      {"ANALYTICS_MAX_CONCURRENCY", std::to_string(c.analyticsMaxConcurrency)},
      {"WEBHOOK_MAX_PER_SECOND", std::to_string(static_cast<long>(c.webhookMaxPerSecond))},
      {"WEBHOOK_MAX_CONCURRENCY", std::to_string(c.webhookMaxConcurrency)},
      {"SMTP_URL", redactUrl(c.smtpUrl)},
      {"EFFECTD_LOG_FORMAT", c.logFormat == LogFormat::Json ? "json" : "text"},
      {"EFFECTD_LOG_LEVEL", c.logLevel},
  };
}

handlers::RetryPolicy eventRetryPolicy(const Config& c) {
  return {.backoff = {.base = c.eventRetryBase, .max = c.eventRetryMax},
          .maxAttempts = c.eventMaxAttempts};
}

}  // namespace effectd::config
