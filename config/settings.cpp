#include "config/settings.hpp"

#include <array>
#include <sstream>

namespace effectd::config {
namespace {

using K = SettingKind;
using S = SettingSpec;

constexpr long kDay = 86400;

// In the order of the example file and the README. A setting's default is
// Config's member initializer; `defaultNote` only where that alone would
// mislead (a derived or purpose-dependent default).
const std::array kSettings{
    // --- Database
    S{.name = "DATABASE_URL",
      .group = "Database",
      .kind = K::SecretUrl,
      .field = &Config::databaseUrl,
      .defaultNote = "required",
      .example = "postgresql://effectd:CHANGE_ME@127.0.0.1:5432/syntaxkit",
      .help = "libpq URL or key=value string. It may hold a password: under systemd prefer the "
              "DATABASE_URL credential (a value set here wins over a credential)."},
    S{.name = "DATABASE_LISTEN_URL",
      .group = "Database",
      .kind = K::SecretUrl,
      .field = &Config::databaseListenUrl,
      .defaultNote = "`DATABASE_URL`; none behind a transaction pooler",
      .help = "Direct connection (not through a pooler) for LISTEN, which wakes the drainer at "
              "once and feeds `effects tail` and the admin page's live view. Behind a "
              "transaction pooler without it, effects are found by polling."},
    S{.name = "DATABASE_POOLER",
      .group = "Database",
      .kind = K::Choice,
      .field = &Config::databasePooler,
      .choices = "auto|transaction|none",
      .help = "transaction when DATABASE_URL goes through a transaction pooler (PgBouncer's "
              "transaction mode, RDS Proxy): statements then keep nothing on the server "
              "between transactions. auto recognises Prisma's pgbouncer=true, Supabase's port "
              "6543 and Neon's -pooler hosts, and switches to transaction at the first "
              "prepared-statement error (26000, 42P05) of a pooler it did not recognise. A "
              "session pooler is none."},
    S{.name = "EFFECTD_DB_POOL_SIZE",
      .group = "Database",
      .kind = K::Integer,
      .field = &Config::databasePoolSize,
      .min = 1,
      .max = 256,
      .help = "Connections (one writer thread each) storing webhook events. Each stores "
              "everything queued in one transaction, so more writers only make smaller batches "
              "(at 16 connections on 2 cores, 2 writers stored 4,600 events/s against 3,800 "
              "with 4)."},
    // --- Stripe
    S{.name = "STRIPE_WEBHOOK_SECRET",
      .group = "Stripe",
      .kind = K::SecretList,
      .field = &Config::stripeWebhookSecrets,
      .defaultNote = "required by `serve`",
      .example = "whsec_CHANGE_ME",
      .help = "One or more signing secrets (whsec_...), comma-separated: during a rotation, the "
              "new and the old one."},
    S{.name = "STRIPE_WEBHOOK_TOLERANCE",
      .group = "Stripe",
      .kind = K::Seconds,
      .field = &Config::stripeTolerance,
      .min = 1,
      .max = kDay,
      .help = "Seconds a signature's timestamp may be off, either way."},
    S{.name = "STRIPE_LIVEMODE",
      .group = "Stripe",
      .kind = K::Choice,
      .field = &Config::livemode,
      .choices = "any|test|live",
      .help = "any, test or live: events of the other mode are refused with 400."},
    // --- HTTP
    S{.name = "EFFECTD_LISTEN",
      .group = "HTTP",
      .kind = K::Address,
      .field = &Config::listen,
      .help = "The public listener (Stripe's webhooks, /healthz, /readyz), host:port "
              "([::1]:8080 for IPv6)."},
    S{.name = "EFFECTD_ADMIN_LISTEN",
      .group = "HTTP",
      .kind = K::AddressOrOff,
      .field = &Config::adminListen,
      .help = "The admin listener (/metrics, /admin/), host:port or off. Anywhere but loopback "
              "it needs EFFECTD_ADMIN_TOKEN, for /metrics too."},
    S{.name = "EFFECTD_ADMIN_TOKEN",
      .group = "HTTP",
      .kind = K::Secret,
      .field = &Config::adminToken,
      .help = "Bearer token of the admin API and page (a browser gives it as the Basic "
              "password, with any user name). Without it, /admin/ is 404."},
    S{.name = "EFFECTD_MAX_BODY_BYTES",
      .group = "HTTP",
      .kind = K::Integer,
      .field = &Config::maxBodyBytes,
      .min = 1024,
      .max = 64L * 1024 * 1024,
      .help = "Largest request body: 413 beyond it, answered without reading the rest."},
    S{.name = "EFFECTD_MAX_HEADER_BYTES",
      .group = "HTTP",
      .kind = K::Integer,
      .field = &Config::maxHeaderBytes,
      .min = 1024,
      .max = 1024L * 1024,
      .help = "Largest request header block: 431 beyond it."},
    S{.name = "EFFECTD_MAX_CONNECTIONS",
      .group = "HTTP",
      .kind = K::Integer,
      .field = &Config::maxConnections,
      .min = 1,
      .max = 1000000,
      .help = "Open connections; more are answered 503 and closed."},
    S{.name = "EFFECTD_READ_TIMEOUT",
      .group = "HTTP",
      .kind = K::Seconds,
      .field = &Config::readTimeout,
      .min = 1,
      .max = 3600,
      .help = "Seconds to receive one whole request (header and body), from its first byte (the "
              "first request: from the accept)."},
    S{.name = "EFFECTD_IDLE_TIMEOUT",
      .group = "HTTP",
      .kind = K::Seconds,
      .field = &Config::idleTimeout,
      .min = 1,
      .max = 3600,
      .help = "Seconds a kept-alive connection may wait for its next request's first byte. At "
              "EFFECTD_MAX_CONNECTIONS, the connection that has waited longest without sending "
              "a byte is closed to make room; one in the middle of a request never is."},
    S{.name = "EFFECTD_SHUTDOWN_TIMEOUT",
      .group = "HTTP",
      .kind = K::Seconds,
      .field = &Config::shutdownTimeout,
      .min = 1,
      .max = 3600,
      .help = "Seconds SIGTERM gives everything at once: requests in flight, the events they "
              "queued, deliveries in flight. Events a writer has not begun storing by then are "
              "answered 503."},
    S{.name = "EFFECTD_DB_TIMEOUT",
      .group = "HTTP",
      .kind = K::Seconds,
      .field = &Config::databaseTimeout,
      .min = 1,
      .max = 600,
      .help = "Seconds any one database call may take before its connection is cut: a database "
              "that stops answering without a reset costs 503s within seconds, not TCP's "
              "minutes. Also each connection attempt's limit (libpq's connect_timeout, at least "
              "2) where DATABASE_URL sets none."},
    S{.name = "EFFECTD_IO_THREADS",
      .group = "HTTP",
      .kind = K::Integer,
      .field = &Config::ioThreads,
      .min = 1,
      .max = 256,
      .help = "Event-loop threads."},
    // --- Intake
    S{.name = "EFFECTD_INTAKE_MAX_BATCH",
      .group = "Intake group commit",
      .kind = K::Integer,
      .field = &Config::intakeMaxBatch,
      .min = 1,
      .max = 1000,
      .help = "Events stored per transaction, at most."},
    S{.name = "EFFECTD_INTAKE_MAX_QUEUE",
      .group = "Intake group commit",
      .kind = K::Integer,
      .field = &Config::intakeMaxQueue,
      .min = 1,
      .max = 1000000,
      .help = "Events waiting for the database, at most; more are answered 503 at once."},
    // --- Event retries
    S{.name = "EFFECTD_EVENT_RETRY_BASE",
      .group = "Event retries",
      .kind = K::Seconds,
      .field = &Config::eventRetryBase,
      .min = 1,
      .max = kDay,
      .help = "Seconds before the first retry of an event whose handler failed (its "
              "organization is not linked yet, say); doubled each time, with 25% jitter."},
    S{.name = "EFFECTD_EVENT_RETRY_MAX",
      .group = "Event retries",
      .kind = K::Seconds,
      .field = &Config::eventRetryMax,
      .min = 1,
      .max = 7 * kDay,
      .help = "Seconds: the cap of that delay."},
    S{.name = "EFFECTD_EVENT_MAX_ATTEMPTS",
      .group = "Event retries",
      .kind = K::Integer,
      .field = &Config::eventMaxAttempts,
      .min = 1,
      .max = 1000,
      .help = "Handler runs before a failed event waits for an operator (effectd events "
              "replay)."},
    S{.name = "EFFECTD_EVENT_RETRY_POLL_MS",
      .group = "Event retries",
      .kind = K::Milliseconds,
      .field = &Config::eventRetryPoll,
      .min = 10,
      .max = 3600L * 1000,
      .help = "How often the retry loop looks for due events."},
    // --- Email
    S{.name = "EMAIL_PROVIDER",
      .group = "Email",
      .kind = K::Choice,
      .field = &Config::emailProvider,
      .choices = "file|resend|postmark|smtp",
      .help = "resend, postmark, smtp, or file (writes .eml files, for development). serve "
              "refuses to start without it."},
    S{.name = "EMAIL_FROM",
      .group = "Email",
      .kind = K::Text,
      .field = &Config::emailFrom,
      .help = "Default sender."},
    S{.name = "EMAIL_FILE_DIR",
      .group = "Email",
      .kind = K::Text,
      .field = &Config::emailFileDir,
      .help = "Where the file provider writes <effect id>.eml (make run: build/release/mail)."},
    S{.name = "RESEND_API_KEY",
      .group = "Email",
      .kind = K::Secret,
      .field = &Config::resendApiKey,
      .help = "Resend's API key (Idempotency-Key = effect key)."},
    S{.name = "RESEND_API_URL",
      .group = "Email",
      .kind = K::Url,
      .field = &Config::resendApiUrl,
      .help = "Resend's base URL."},
    S{.name = "POSTMARK_SERVER_TOKEN",
      .group = "Email",
      .kind = K::Secret,
      .field = &Config::postmarkServerToken,
      .help = "Postmark's server token (Postmark does not deduplicate: never resent after a "
              "doubtful attempt)."},
    S{.name = "POSTMARK_API_URL",
      .group = "Email",
      .kind = K::Url,
      .field = &Config::postmarkApiUrl,
      .help = "Postmark's base URL."},
    S{.name = "SMTP_URL",
      .group = "Email",
      .kind = K::SecretUrl,
      .field = &Config::smtpUrl,
      .help = "smtp://user:pass@host:587 (STARTTLS required unless ?starttls=off) or "
              "smtps://user:pass@host:465."},
    // --- Analytics
    S{.name = "ANALYTICS_PROVIDER",
      .group = "Analytics",
      .kind = K::Choice,
      .field = &Config::analyticsProvider,
      .choices = "log|posthog|segment",
      .help = "posthog, segment, or log (writes log lines, for development). serve refuses to "
              "start without it."},
    S{.name = "POSTHOG_API_KEY",
      .group = "Analytics",
      .kind = K::Secret,
      .field = &Config::posthogApiKey,
      .help = "PostHog's project key (/batch/, uuid = UUIDv5 of the effect key)."},
    S{.name = "POSTHOG_HOST",
      .group = "Analytics",
      .kind = K::Url,
      .field = &Config::posthogHost,
      .help = "PostHog's base URL."},
    S{.name = "SEGMENT_WRITE_KEY",
      .group = "Analytics",
      .kind = K::Secret,
      .field = &Config::segmentWriteKey,
      .help = "Segment's write key (/v1/track, messageId = effect key)."},
    S{.name = "SEGMENT_API_URL",
      .group = "Analytics",
      .kind = K::Url,
      .field = &Config::segmentApiUrl,
      .help = "Segment's base URL."},
    // --- Outgoing webhooks and TLS
    S{.name = "WEBHOOK_ALLOWED_HOSTS",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Hosts,
      .field = &Config::webhookAllowedHosts,
      .help = "Where outgoing webhooks (whose URL comes from the payload) may go over https: "
              "comma-separated host or host:port ([2001:db8::1]:8443 for IPv6); a host without "
              "a port allows 443 only. With neither this nor the next set, webhook effects wait."},
    S{.name = "WEBHOOK_ALLOW_HTTP_HOSTS",
      .group = "Outgoing webhooks and TLS",
      .kind = K::HttpHosts,
      .field = &Config::webhookAllowHttpHosts,
      .help = "host or host:port (80 unless given) webhooks may reach over plain http; any "
              "other http:// URL is refused."},
    S{.name = "WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Networks,
      .field = &Config::webhookAllowPrivateAddresses,
      .help = "Addresses or networks (10.1.0.0/16, fd00::/8, 127.0.0.1) that webhooks may "
              "connect to although loopback, private, link-local, CGNAT, multicast or reserved; "
              "refused otherwise."},
    S{.name = "WEBHOOK_SIGNING_SECRET",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Secret,
      .field = &Config::webhookSigningSecret,
      .help = "Signs outgoing webhooks the Standard Webhooks way (whsec_...)."},
    S{.name = "EFFECTD_CA_FILE",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Text,
      .field = &Config::caFile,
      .help = "Extra CA bundle (PEM) for every outgoing TLS connection, beside the system's."},
    S{.name = "EFFECTD_CONNECT_TIMEOUT",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Seconds,
      .field = &Config::connectTimeout,
      .min = 1,
      .max = 300,
      .help = "Seconds to connect to a provider."},
    S{.name = "EFFECTD_PROVIDER_TIMEOUT",
      .group = "Outgoing webhooks and TLS",
      .kind = K::Seconds,
      .field = &Config::providerTimeout,
      .min = 1,
      .max = 600,
      .help = "Seconds to wait for a provider's answer (an HTTP response, each SMTP reply). A "
              "request that timed out after it was sent is retried when the provider "
              "deduplicates, else the effect becomes unknown."},
    // --- Draining
    S{.name = "EFFECTD_DRAIN_CONCURRENCY",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::drainConcurrency,
      .min = 1,
      .max = 1024,
      .help = "Deliveries in flight. Effects of providers that deduplicate (Resend, PostHog, "
              "Segment, webhooks, file, log) are claimed up to one batch ahead of them, those of "
              "SMTP and Postmark never beyond them."},
    S{.name = "EFFECTD_DRAIN_BATCH",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::drainBatch,
      .min = 1,
      .max = 1000,
      .help = "Effects per claim."},
    S{.name = "EFFECTD_EFFECT_LEASE",
      .group = "Draining",
      .kind = K::Seconds,
      .field = &Config::effectLease,
      .min = 5,
      .max = 3600,
      .help = "Seconds a claim holds an effect; renewed every third of it while delivering."},
    S{.name = "EFFECTD_POLL_INTERVAL_MS",
      .group = "Draining",
      .kind = K::Milliseconds,
      .field = &Config::pollInterval,
      .min = 10,
      .max = 3600L * 1000,
      .help = "Look for due effects this often even without NOTIFY."},
    S{.name = "EFFECTD_EFFECT_RETRY_BASE",
      .group = "Draining",
      .kind = K::Seconds,
      .field = &Config::effectRetryBase,
      .min = 1,
      .max = kDay,
      .help = "Seconds before a failed delivery's first retry; doubled each time, with 25% "
              "jitter (a provider's Retry-After wins)."},
    S{.name = "EFFECTD_EFFECT_RETRY_MAX",
      .group = "Draining",
      .kind = K::Seconds,
      .field = &Config::effectRetryMax,
      .min = 1,
      .max = 7 * kDay,
      .help = "Seconds: the cap of that delay."},
    S{.name = "EFFECTD_RETENTION_DAYS",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::retentionDays,
      .min = 4,
      .max = 3650,
      .help = "Sent and cancelled effects older than this are compacted (their key stays used "
              "forever, about 480 bytes a row); processed and ignored events are deleted. At "
              "least 4: Stripe retries an event for 3 days."},
    S{.name = "EMAIL_MAX_PER_SECOND",
      .group = "Draining",
      .kind = K::Rate,
      .field = &Config::emailMaxPerSecond,
      .min = 0,
      .max = 100000,
      .defaultNote = "2 with resend, else 0",
      .help = "Emails per second at most (token bucket, one second of burst); 0: no limit. "
              "Resend's default API limit is 2 per second."},
    S{.name = "EMAIL_MAX_CONCURRENCY",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::emailMaxConcurrency,
      .min = 0,
      .max = 1024,
      .help = "Emails in flight at most; 0: only EFFECTD_DRAIN_CONCURRENCY limits them."},
    S{.name = "ANALYTICS_MAX_PER_SECOND",
      .group = "Draining",
      .kind = K::Rate,
      .field = &Config::analyticsMaxPerSecond,
      .min = 0,
      .max = 100000,
      .help = "Analytics events per second at most; 0: no limit."},
    S{.name = "ANALYTICS_MAX_CONCURRENCY",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::analyticsMaxConcurrency,
      .min = 0,
      .max = 1024,
      .help = "Analytics deliveries in flight at most; 0: no limit of their own."},
    S{.name = "WEBHOOK_MAX_PER_SECOND",
      .group = "Draining",
      .kind = K::Rate,
      .field = &Config::webhookMaxPerSecond,
      .min = 0,
      .max = 100000,
      .help = "Outgoing webhooks per second at most; 0: no limit."},
    S{.name = "WEBHOOK_MAX_CONCURRENCY",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::webhookMaxConcurrency,
      .min = 0,
      .max = 1024,
      .help = "Outgoing webhooks in flight at most; 0: no limit of their own."},
    S{.name = "WEBHOOK_MAX_CONCURRENCY_PER_ORIGIN",
      .group = "Draining",
      .kind = K::Integer,
      .field = &Config::webhookMaxPerOrigin,
      .min = 0,
      .max = 1024,
      .defaultNote = "half of EFFECTD_DRAIN_CONCURRENCY, at least 1",
      .help = "Outgoing webhooks in flight at most to one receiver (scheme, host and port), "
              "so that a slow one never holds every delivery slot; 0: no limit."},
    S{.name = "EFFECTD_REFUSED_CREDENTIALS_PAUSE",
      .group = "Draining",
      .kind = K::Seconds,
      .field = &Config::refusedCredentialsPause,
      .min = 1,
      .max = 3600,
      .help = "Seconds a kind of effect pauses when its provider refuses the credentials (HTTP "
              "401 or 403, SMTP 530 or 535): its effects wait with their attempts untouched, "
              "then one delivery probes; each refused probe doubles the pause, up to 20 times "
              "this."},
    // --- Logs
    S{.name = "EFFECTD_LOG_FORMAT",
      .group = "Logs",
      .kind = K::Choice,
      .field = &Config::logFormat,
      .choices = "json|text",
      .help = "json (one object per line, for journald and Docker) or text."},
    S{.name = "EFFECTD_LOG_LEVEL",
      .group = "Logs",
      .kind = K::Choice,
      .field = &Config::logLevel,
      .choices = "trace|debug|info|warn|error",
      .help = "trace, debug, info, warn or error."},
};

template <typename T>
const T& member(const Config& c, const SettingField& field) {
  return c.*std::get<T Config::*>(field);
}

std::string choiceName(std::string_view choices, std::size_t index) {
  for (std::size_t i = 0; i < index; ++i) choices.remove_prefix(choices.find('|') + 1);
  return std::string(choices.substr(0, choices.find('|')));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// The value as a variable would spell it (secrets included: for defaults,
// which are never secret, and for shownValue to redact).
std::string spelled(const Config& c, const SettingSpec& s) {
  return std::visit(
      [&](auto field) -> std::string {
        using T = std::remove_cvref_t<decltype(c.*field)>;
        const auto& v = c.*field;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, int>) {
          return v < 0 ? std::string() : std::to_string(v);  // -1: computed (defaultNote)
        } else if constexpr (std::is_same_v<T, std::size_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, std::chrono::seconds> ||
                             std::is_same_v<T, std::chrono::milliseconds>) {
          return std::to_string(v.count());
        } else if constexpr (std::is_same_v<T, double>) {
          return v < 0 ? std::string() : std::to_string(static_cast<long>(v));
        } else if constexpr (std::is_same_v<T, ListenAddress>) {
          return v.toString();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return joined(v);
        } else {
          return choiceName(s.choices, static_cast<std::size_t>(v));
        }
      },
      s.field);
}

// Wraps `text` into "# " comment lines of at most 80 columns.
void comment(std::ostringstream& out, std::string_view text) {
  std::string line = "#";
  std::istringstream words{std::string(text)};
  for (std::string word; words >> word;) {
    if (line.size() + 1 + word.size() > 80) {
      out << line << "\n";
      line = "#";
    }
    line += " " + word;
  }
  if (line != "#") out << line << "\n";
}

}  // namespace

std::span<const SettingSpec> settings() {
  return kSettings;
}

std::string shownValue(const Config& c, const SettingSpec& s) {
  switch (s.kind) {
    case K::Secret: {
      const bool set = !member<std::string>(c, s.field).empty();
      return set ? "(1 set, redacted)" : "(not set)";
    }
    case K::SecretList: {
      const auto n = member<std::vector<std::string>>(c, s.field).size();
      return n == 0 ? std::string("(not set)") : "(" + std::to_string(n) + " set, redacted)";
    }
    case K::SecretUrl:
    case K::Url:
      return redactUrl(member<std::string>(c, s.field));
    default:
      return spelled(c, s);
  }
}

std::string exampleFile() {
  const Config defaults;
  std::ostringstream out;
  out << "# effectd configuration: every variable with its default. Secrets may also be\n"
         "# given as NAME_FILE=/path, or as a systemd credential named NAME\n"
         "# (LoadCredential=NAME:/path in the unit). `effectd config check` validates it all.\n"
         "# Generated from config/settings.cpp by `make settings-docs`; do not edit.\n";
  std::string_view group;
  for (const auto& s : kSettings) {
    if (s.group != group) {
      group = s.group;
      std::string heading = "# --- " + std::string(group) + " ";
      heading.resize(std::max<std::size_t>(heading.size(), 78), '-');
      out << "\n" << heading << "\n";
    }
    comment(out, s.help);
    if (!s.defaultNote.empty()) {
      std::string note(s.defaultNote);
      std::erase(note, '`');
      comment(out, "Default: " + note + ".");
    }
    out << "#" << s.name << "=" << (s.example.empty() ? spelled(defaults, s) : s.example) << "\n";
  }
  return out.str();
}

std::string referenceTable() {
  const Config defaults;
  std::ostringstream out;
  out << "| variable | default | meaning |\n| --- | --- | --- |\n";
  for (const auto& s : kSettings) {
    std::string def(s.defaultNote);
    if (def.empty()) {
      const auto v = spelled(defaults, s);
      def = v.empty() ? "none" : "`" + v + "`";
    }
    std::string help(s.help);
    for (std::size_t at = 0; (at = help.find('|', at)) != std::string::npos; at += 2) {
      help.replace(at, 1, "\\|");
    }
    out << "| `" << s.name << "`" << (s.secret() ? " (secret)" : "") << " | " << def << " | "
        << help << " |\n";
  }
  return out.str();
}

}  // namespace effectd::config
