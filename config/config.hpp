// Configuration: one typed struct, loaded from the environment (12-factor),
// with secrets also read from NAME_FILE or a systemd credential.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace effectd::config {

enum class LivemodePolicy { Any, Test, Live };
enum class LogFormat { Json, Text };

struct ListenAddress {
  std::string host;  // empty: not listening (EFFECTD_ADMIN_LISTEN=off)
  std::uint16_t port = 0;
  std::string toString() const;
  bool enabled() const { return !host.empty(); }
  bool isLoopback() const;
};

struct Config {
  // Database.
  std::string databaseUrl;  // DATABASE_URL (secret: may hold a password)
  // DATABASE_LISTEN_URL: defaults to databaseUrl, or to none (poll only)
  // when databaseUrl goes through a transaction pooler.
  std::string databaseListenUrl;
  std::string databasePooler = "auto";  // DATABASE_POOLER: auto, transaction or none
  // Derived from the two above (sql/pooler.hpp): whether statements must hold
  // nothing on the server between transactions, and why.
  bool transactionPooler = false;
  std::string poolerReason;
  int databasePoolSize = 2;  // EFFECTD_DB_POOL_SIZE: connections used for intake

  // Stripe.
  std::vector<std::string> stripeWebhookSecrets;  // STRIPE_WEBHOOK_SECRET, comma-separated
  std::chrono::seconds stripeTolerance{300};      // STRIPE_WEBHOOK_TOLERANCE
  LivemodePolicy livemode = LivemodePolicy::Any;  // STRIPE_LIVEMODE

  // HTTP.
  ListenAddress listen{"0.0.0.0", 8080};         // EFFECTD_LISTEN
  ListenAddress adminListen{"127.0.0.1", 9090};  // EFFECTD_ADMIN_LISTEN, or off
  std::string adminToken;                        // EFFECTD_ADMIN_TOKEN (secret)
  std::size_t maxBodyBytes = 1024 * 1024;        // EFFECTD_MAX_BODY_BYTES
  std::size_t maxHeaderBytes = 16 * 1024;        // EFFECTD_MAX_HEADER_BYTES
  int maxConnections = 1024;                     // EFFECTD_MAX_CONNECTIONS
  std::chrono::seconds readTimeout{10};          // EFFECTD_READ_TIMEOUT: one request, headers+body
  std::chrono::seconds idleTimeout{60};      // EFFECTD_IDLE_TIMEOUT: keep-alive between requests
  std::chrono::seconds shutdownTimeout{20};  // EFFECTD_SHUTDOWN_TIMEOUT
  std::chrono::seconds databaseTimeout{5};   // EFFECTD_DB_TIMEOUT: longest database call
  int ioThreads = 2;                         // EFFECTD_IO_THREADS

  // Group commit of webhook events.
  std::size_t intakeMaxBatch = 128;   // EFFECTD_INTAKE_MAX_BATCH: events per transaction
  std::size_t intakeMaxQueue = 8192;  // EFFECTD_INTAKE_MAX_QUEUE: beyond this, 503 at once

  // Retrying events whose handler failed.
  std::chrono::seconds eventRetryBase{10};         // EFFECTD_EVENT_RETRY_BASE: first delay
  std::chrono::seconds eventRetryMax{3600};        // EFFECTD_EVENT_RETRY_MAX: delay cap
  int eventMaxAttempts = 12;                       // EFFECTD_EVENT_MAX_ATTEMPTS
  std::chrono::milliseconds eventRetryPoll{1000};  // EFFECTD_EVENT_RETRY_POLL_MS

  // Draining OutboundEffect.
  std::string emailProvider = "file";                        // EMAIL_PROVIDER
  std::string emailFrom = "SyntaxKit <no-reply@localhost>";  // EMAIL_FROM
  std::string emailFileDir = "effectd-mail";                 // EMAIL_FILE_DIR
  std::string analyticsProvider = "log";                     // ANALYTICS_PROVIDER
  int drainConcurrency = 8;                      // EFFECTD_DRAIN_CONCURRENCY: deliveries in flight
  int drainBatch = 32;                           // EFFECTD_DRAIN_BATCH: effects per claim
  std::chrono::seconds effectLease{60};          // EFFECTD_EFFECT_LEASE
  std::chrono::milliseconds pollInterval{1000};  // EFFECTD_POLL_INTERVAL_MS
  std::chrono::seconds effectRetryBase{10};      // EFFECTD_EFFECT_RETRY_BASE
  std::chrono::seconds effectRetryMax{3600};     // EFFECTD_EFFECT_RETRY_MAX
  int retentionDays = 30;                        // EFFECTD_RETENTION_DAYS

  // Providers. Base URLs are settings so tests and proxies can stand in.
  std::string resendApiKey;                                    // RESEND_API_KEY (secret)
  std::string resendApiUrl = "https://api.resend.com";         // RESEND_API_URL
  std::string postmarkServerToken;                             // POSTMARK_SERVER_TOKEN (secret)
  std::string postmarkApiUrl = "https://api.postmarkapp.com";  // POSTMARK_API_URL
  std::string posthogApiKey;                                   // POSTHOG_API_KEY (secret)
  std::string posthogHost = "https://us.i.posthog.com";        // POSTHOG_HOST
  std::string segmentWriteKey;                                 // SEGMENT_WRITE_KEY (secret)
  std::string segmentApiUrl = "https://api.segment.io";        // SEGMENT_API_URL
  std::vector<std::string> webhookAllowedHosts;                // WEBHOOK_ALLOWED_HOSTS: host:port
  std::vector<std::string> webhookAllowHttpHosts;              // WEBHOOK_ALLOW_HTTP_HOSTS
  std::vector<std::string> webhookAllowPrivateAddresses;       // WEBHOOK_ALLOW_PRIVATE_ADDRESSES
  std::string webhookSigningSecret;                            // WEBHOOK_SIGNING_SECRET (secret)
  std::string caFile;                                          // EFFECTD_CA_FILE
  std::chrono::seconds connectTimeout{5};  // EFFECTD_CONNECT_TIMEOUT: to a provider
  std::chrono::seconds providerTimeout{
      15};              // EFFECTD_PROVIDER_TIMEOUT: an HTTP answer, an SMTP reply
  std::string smtpUrl;  // SMTP_URL (secret: may hold a password)
  // Per-provider limits; 0: none beyond EFFECTD_DRAIN_CONCURRENCY.
  // EMAIL_MAX_PER_SECOND defaults to 2 for resend (its default API limit).
  double emailMaxPerSecond = -1;     // EMAIL_MAX_PER_SECOND (-1: the provider's default)
  int emailMaxConcurrency = 0;       // EMAIL_MAX_CONCURRENCY
  double analyticsMaxPerSecond = 0;  // ANALYTICS_MAX_PER_SECOND
  int analyticsMaxConcurrency = 0;   // ANALYTICS_MAX_CONCURRENCY
  double webhookMaxPerSecond = 0;    // WEBHOOK_MAX_PER_SECOND
  int webhookMaxConcurrency = 0;     // WEBHOOK_MAX_CONCURRENCY
  // WEBHOOK_MAX_CONCURRENCY_PER_ORIGIN (-1: half of EFFECTD_DRAIN_CONCURRENCY, at least 1)
  int webhookMaxPerOrigin = -1;
  // EFFECTD_REFUSED_CREDENTIALS_PAUSE: the first pause of a kind whose
  // provider refused the credentials; doubled on each refused probe, up to
  // 20 times as long.
  std::chrono::seconds refusedCredentialsPause{30};

  // Logs.
  LogFormat logFormat = LogFormat::Json;  // EFFECTD_LOG_FORMAT
  std::string logLevel = "info";          // EFFECTD_LOG_LEVEL
};

// Reads one environment variable; empty optional when unset.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment processEnvironment();

struct LoadResult {
  Config config;
  std::vector<std::string> problems;  // every problem found, secrets never quoted
  // What the operator should know although nothing is wrong (a pooler
  // recognised, LISTEN given up for polling): logged by serve, shown by
  // `config check`.
  std::vector<std::string> notes;
  bool ok() const { return problems.empty(); }
};

// What `serve` needs. `requireDatabaseOnly` is for commands such as `migrate`,
// which must not fail because the webhook secret is not configured there.
enum class Purpose { Serve, DatabaseOnly, Client };
LoadResult load(const Environment& env, Purpose purpose = Purpose::Serve);

// One line per setting with secrets redacted, for `effectd config check`.
struct Setting {
  std::string name;
  std::string value;
};
std::vector<Setting> describe(const Config& config);

// Masks the password of any URL (postgresql://, smtp://, https://...) and of
// a libpq key=value string.
std::string redactUrl(std::string_view url);

}  // namespace effectd::config
