#include "daemon/serve.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <memory>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "base/periodic_thread.hpp"
#include "daemon/admin/admin_routes.hpp"
#include "daemon/admin/admin_site.hpp"
#include "daemon/admin/admin_worker.hpp"
#include "daemon/admin/transition_feed.hpp"
#include "daemon/channel_factory.hpp"
#include "daemon/health.hpp"
#include "daemon/io_threads.hpp"
#include "daemon/lifecycle.hpp"
#include "daemon/maintenance.hpp"
#include "daemon/open_files.hpp"
#include "daemon/public_routes.hpp"
#include "daemon/public_site.hpp"
#include "daemon/service_group.hpp"
#include "handlers/event_status.hpp"
#include "http/listener.hpp"
#include "intake/event_retrier.hpp"
#include "intake/intake_writer.hpp"
#include "queue/drainer.hpp"
#include "sql/call_deadline.hpp"
#include "sql/connection.hpp"
#include "sql/database_health.hpp"
#include "sql/error_text.hpp"
#include "sql/migrator.hpp"

namespace effectd::daemon {
namespace {

// sysexits' EX_CONFIG: the unit's RestartPreventExitStatus, so systemd does
// not restart a daemon that will refuse again.
constexpr int kWrongSchema = 78;

// The database's migrations must be exactly this binary's: an older build
// against a newer schema (or the reverse) writes rows the schema no longer
// means (an older build deleted effects whose keys must stay used).
enum class SchemaMatch { Matches, Differs, Unknown };

SchemaMatch compareMigrations(const config::Config& config) {
  sql::Connection connection({.url = config.databaseUrl, .callTimeout = config.databaseTimeout});
  auto* conn = connection.get();
  if (!conn) {
    log::warn(
        "cannot compare the database's migrations with this binary's: unreachable; "
        "comparing once it answers",
        {{"error", connection.lastError()}});
    return SchemaMatch::Unknown;
  }
  try {
    const auto deadline = connection.deadline();
    const auto drift = sql::migrationDrift(*conn, sql::embeddedMigrations());
    if (drift.none()) return SchemaMatch::Matches;
    log::error("the database's migrations are not this binary's; not serving",
               {{"problem", drift.describe()}});
    return SchemaMatch::Differs;
  } catch (const std::exception& e) {
    log::warn("cannot compare the database's migrations with this binary's; comparing again",
              {{"error", sql::errorText(e)}});
    return SchemaMatch::Unknown;
  }
}

}  // namespace

int serve(const config::Config& config) {
  namespace asio = boost::asio;
  const auto files = fitOpenFiles(config, RaiseLimit::Yes);
  if (files.maxConnections < config.maxConnections) {
    log::warn(files.note, {{"open_files", files.soft}, {"reserved", files.reserved}});
  } else if (!files.note.empty()) {
    log::info(files.note);
  }
  // A database that cannot be reached now is not a reason to refuse: the
  // daemon serves (503s) as after any outage, and compares as soon as the
  // database answers; a difference then stops it as it would have at start.
  const auto atStart = compareMigrations(config);
  if (atStart == SchemaMatch::Differs) return kWrongSchema;
  std::atomic<bool> wrongSchema = false;
  std::atomic<bool> compared = atStart == SchemaMatch::Matches;

  // Everything is built before anything starts: a listener that cannot bind
  // stops the daemon before a single effect is claimed.
  sql::DatabaseHealth health;
  const std::chrono::milliseconds databaseTimeout = config.databaseTimeout;
  sql::CallDeadlineWatcher deadlines;
  HealthMonitor monitor({.databaseUrl = config.databaseUrl, .timeout = databaseTimeout}, health);
  intake::IntakeWriter writer({.databaseUrl = config.databaseUrl,
                               .connections = config.databasePoolSize,
                               .maxBatch = config.intakeMaxBatch,
                               .maxQueue = config.intakeMaxQueue,
                               .databaseTimeout = databaseTimeout,
                               .health = &health,
                               .retry = handlers::eventRetryPolicy(config)});
  intake::EventRetrier retrier({.databaseUrl = config.databaseUrl,
                                .policy = handlers::eventRetryPolicy(config),
                                .interval = config.eventRetryPoll,
                                .databaseTimeout = databaseTimeout});
  const auto worker = queue::Drainer::defaultWorkerName();
  const auto channels = makeChannels(config);
  queue::Drainer drainer({.databaseUrl = config.databaseUrl,
                          .listenUrl = config.databaseListenUrl,
                          .worker = worker,
                          .concurrency = config.drainConcurrency,
                          .batchSize = config.drainBatch,
                          .lease = config.effectLease,
                          .pollInterval = config.pollInterval,
                          .shutdownGrace = config.shutdownTimeout,
                          .retry = {.base = config.effectRetryBase, .max = config.effectRetryMax},
                          .databaseTimeout = databaseTimeout},
                         channels);
  Maintenance maintenance({.databaseUrl = config.databaseUrl,
                           .lease = config.effectLease,
                           .worker = worker,
                           .retention = std::chrono::hours(24 * config.retentionDays),
                           .databaseTimeout = databaseTimeout});
  // Before the services that post into it (the writer's answers, the
  // admin worker's), so that it outlives them.
  asio::io_context ioc(config.ioThreads);
  AdminWorker adminWorker({.databaseUrl = config.databaseUrl, .databaseTimeout = databaseTimeout});
  TransitionFeed feed({.listenUrl = config.databaseListenUrl});
  const AdminRoutes adminRoutes({.token = config.adminToken,
                                 .loopback = config.adminListen.isLoopback(),
                                 .replay = handlers::eventRetryPolicy(config)});
  PublicRoutes routes({.config = &config, .health = &health, .pauses = channels->pauses.get()});
  IoThreads ioThreads(ioc, config.ioThreads);

  std::unique_ptr<http::Listener> server;
  std::unique_ptr<http::Listener> admin;
  try {
    server = std::make_unique<http::Listener>(
        ioc,
        http::Listener::Options{.host = config.listen.host,
                                .port = config.listen.port,
                                .name = "public",
                                .maxBodyBytes = config.maxBodyBytes,
                                .maxHeaderBytes = config.maxHeaderBytes,
                                .maxConnections = files.maxConnections,
                                .backlog = asio::socket_base::max_listen_connections,
                                .readTimeout = config.readTimeout,
                                .idleTimeout = config.idleTimeout},
        makePublicSite(routes, writer));
  } catch (const std::exception& e) {
    log::error("cannot listen", {{"address", config.listen.toString()}, {"error", e.what()}});
    return 1;
  }
  if (config.adminListen.enabled()) {
    try {
      admin = std::make_unique<http::Listener>(
          ioc,
          http::Listener::Options{.host = config.adminListen.host,
                                  .port = config.adminListen.port,
                                  .name = "admin",
                                  .maxBodyBytes = kAdminMaxBodyBytes,
                                  .maxHeaderBytes = kAdminMaxHeaderBytes,
                                  .maxConnections = kAdminMaxConnections,
                                  .backlog = kAdminBacklog,
                                  .readTimeout = config.readTimeout,
                                  .idleTimeout = config.idleTimeout,
                                  .readersGiveWay = true},
          makeAdminSite(adminRoutes, adminWorker, feed, {.pauses = channels->pauses.get()}));
    } catch (const std::exception& e) {
      log::error("cannot listen",
                 {{"address", config.adminListen.toString()}, {"error", e.what()}});
      return 1;
    }
  }

  // Started in this order, stopped in the reverse one by one deadline: the
  // listeners stop taking requests first, the event loop ends with their
  // last session, the drainer finishes its deliveries, the writers store
  // what they still hold, the call deadlines go last.
  ServiceGroup group;
  group.add("call deadlines", deadlines);
  group.add("health monitor", monitor);
  group.add("intake writer", writer);
  group.add("event retrier", retrier);
  group.add("drainer", drainer);
  group.add("maintenance", maintenance);
  group.add("admin worker", adminWorker);
  group.add("live feed", feed);
  group.add("event loop", ioThreads);
  if (admin) group.add("admin listener", *admin);
  group.add("public listener", *server);

  asio::steady_timer watchdog(ioc);
  const auto watchdogEvery = watchdogInterval();
  std::function<void()> armWatchdog = [&] {
    if (!watchdogEvery) return;
    notifyWatchdog();
    watchdog.expires_after(*watchdogEvery);
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (!ec) armWatchdog();
    });
  };
  armWatchdog();

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"deadline_s", static_cast<long>(config.shutdownTimeout.count())}});
    notifyStopping();
    watchdog.cancel();
    group.beginStop(Service::Clock::now() + config.shutdownTimeout);
  });

  // Once the signal handler is in place: it is how a difference stops serving.
  std::unique_ptr<PeriodicThread> schemaWatch;
  if (!compared) {
    schemaWatch = std::make_unique<PeriodicThread>(
        std::chrono::seconds(2),
        [&] {
          if (compared) return false;
          const auto match = compareMigrations(config);
          if (match == SchemaMatch::Unknown) return false;
          compared = true;
          if (match == SchemaMatch::Differs) {
            wrongSchema = true;
            std::raise(SIGTERM);  // the one way out: the signal handler's shutdown
          }
          return false;
        },
        PeriodicThread::FirstPass::AfterInterval);
    group.add("schema comparison", *schemaWatch);
  }

  try {
    group.start();
  } catch (const std::exception&) {
    return 1;  // logged, and what started is stopped
  }
  // A signal during the start: not ready, and never to be.
  if (!group.stopping()) {
    if (admin) {
      log::info("admin listening",
                {{"address", config.adminListen.toString()},
                 {"admin_port", static_cast<unsigned>(admin->port())},
                 {"admin_api", config.adminToken.empty() ? "off (no EFFECTD_ADMIN_TOKEN)" : "on"}});
    }
    log::info("listening", {{"address", config.listen.toString()},
                            {"port", static_cast<unsigned>(server->port())},
                            {"version", EFFECTD_VERSION},
                            {"db_pool", config.databasePoolSize}});
    notifyReady();
  }

  // Until the signal's shutdown has ended every session; then the rest
  // stops in reverse order: deliveries in flight finish, unstarted ones go
  // back, the writers store what they still hold.
  ioThreads.join();
  group.stop();
  log::info("stopped");
  return wrongSchema ? kWrongSchema : 0;
}

}  // namespace effectd::daemon
