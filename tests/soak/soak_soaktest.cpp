// The soak: steady Stripe traffic and effect deliveries while faults are
// injected, then the promises checked from what Stripe was answered, the
// tables and the stand-ins (tests/soak/soak_outcome.hpp). EFFECTD_SOAK=full
// (make soak) runs each case at full length; otherwise (make test) a short
// variant. The table is printed at the end, and written as JSON to
// EFFECTD_SOAK_OUT when set.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "daemon/http_post.hpp"
#include "tests/soak/soak_outcome.hpp"
#include "tests/soak/soak_workload.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/pgbouncer.hpp"
#include "tests/support/standin.hpp"

namespace effectd::soak {
namespace {

using namespace std::chrono_literals;
using testing::Daemon;
using testing::EnvOverrides;
using testing::eventually;
using Seconds = std::chrono::duration<double>;

const std::string kSecret = "whsec_soak";

// Under ASan (its quarantine holds up to 256 MiB of freed memory) or TSan,
// memory and CPU say more about the sanitizer than about effectd: the
// bounds on them are only checked in a normal build; the figures are
// reported either way.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

struct Scale {
  bool full = false;
  double rate = 40;           // new events per second
  Seconds load{6};            // how long the steady traffic lasts
  Seconds databaseOutage{6};  // PostgreSQL stopped, or a black hole: longer than the lease (5 s)
  Seconds providerOutage{6};  // providers answering 503
  Seconds abuse{8};           // abusive clients, after as long a quiet phase
  int idleConnections = 2000;
  std::chrono::seconds settle{90};
};

const Scale& scale() {
  static const Scale s = [] {
    Scale s;
    if (const char* mode = std::getenv("EFFECTD_SOAK"); mode && std::string(mode) == "full") {
      s = {.full = true,
           .rate = 100,
           .load = 30s,
           .databaseOutage = 10s,
           .providerOutage = 30s,
           .abuse = 20s,
           .idleConnections = 10000,
           .settle = 180s};
    }
    return s;
  }();
  return s;
}

// Organizations for about `seconds` of traffic at the scale's rate (three
// events each).
int organizationsFor(Seconds seconds) {
  return std::max(10, static_cast<int>(scale().rate * seconds.count() / 3));
}

std::vector<CaseOutcome>& outcomes() {
  static std::vector<CaseOutcome> all;
  return all;
}

double rounded(double x, double per = 10) {
  return std::round(x * per) / per;
}

void sleepFor(Seconds s) {
  std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(s));
}

// The providers' stand-ins: Postmark (no idempotency handle) for email,
// PostHog for analytics, or a real SMTP server for email.
struct Providers {
  testing::ProviderStandIn email;
  testing::ProviderStandIn analytics;
  std::unique_ptr<testing::TestCertificates> certs;
  std::unique_ptr<testing::SmtpServer> smtp;

  static std::unique_ptr<Providers> withSmtp() {
    auto p = std::make_unique<Providers>();
    p->certs = std::make_unique<testing::TestCertificates>();
    p->smtp = std::make_unique<testing::SmtpServer>(p->certs->dir);
    return p;
  }
  EnvOverrides env() const {
    EnvOverrides e{{"ANALYTICS_PROVIDER", "posthog"},
                   {"POSTHOG_HOST", analytics.url()},
                   {"POSTHOG_API_KEY", "phc_soak"}};
    if (smtp) {
      e.insert({{"EMAIL_PROVIDER", "smtp"},
                {"SMTP_URL", "smtp://mailer:s3cret@localhost:" + std::to_string(smtp->port())},
                {"EFFECTD_CA_FILE", certs->dir + "/ca.pem"}});
    } else {
      e.insert({{"EMAIL_PROVIDER", "postmark"},
                {"POSTMARK_API_URL", email.url()},
                {"POSTMARK_SERVER_TOKEN", "pm_soak"}});
    }
    return e;
  }
  std::vector<ProviderTally> tallies() const {
    return {smtp ? smtpTally(*smtp) : postmarkTally(email), postHogTally(analytics)};
  }
};

// A daemon configured as an operator would for a soak: short leases and
// backoffs so that a case settles in seconds, info logging.
EnvOverrides daemonEnv(const std::string& databaseUrl, const Providers& providers) {
  EnvOverrides e{{"DATABASE_URL", databaseUrl},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_LOG_LEVEL", "info"},
                 {"EFFECTD_ADMIN_LISTEN", "off"},
                 {"EFFECTD_DB_TIMEOUT", "2"},
                 {"EFFECTD_EFFECT_LEASE", "5"},
                 {"EFFECTD_EFFECT_RETRY_BASE", "1"},
                 {"EFFECTD_EFFECT_RETRY_MAX", "3"},
                 {"EFFECTD_EVENT_RETRY_BASE", "1"},
                 {"EFFECTD_EVENT_RETRY_MAX", "2"},
                 {"EFFECTD_EVENT_RETRY_POLL_MS", "200"},
                 {"EFFECTD_SHUTDOWN_TIMEOUT", "3"}};
  for (auto& [k, v] : providers.env()) e[k] = v;
  return e;
}

// Until Stripe has a 2xx for every event and nothing is left to do.
bool settle(const StripeTraffic& traffic, const std::string& databaseUrl) {
  if (!traffic.waitUntilAllAccepted(scale().settle)) return false;
  pqxx::connection conn(databaseUrl);
  return eventually(
      [&] {
        pqxx::nontransaction tx(conn);
        return tx
            .exec(R"(SELECT 1 FROM "StripeWebhookEvent" WHERE "status" = 'received'
                             OR ("status" = 'failed' AND "nextAttemptAt" IS NOT NULL)
                          UNION ALL
                          SELECT 1 FROM "OutboundEffect" WHERE "status" IN ('pending', 'running')
                          LIMIT 1)")
            .empty();
      },
      scale().settle);
}

// Seconds from `after` to the first 2xx answered after it.
double firstAcceptedAfter(const StripeTraffic& traffic, Clock::time_point after) {
  double best = -1;
  for (const auto& r : traffic.requests()) {
    if (r.status / 100 != 2) continue;
    const auto answered = r.sentAt + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double, std::milli>(r.latencyMs));
    if (answered < after) continue;
    const auto s = Seconds(answered - after).count();
    if (best < 0 || s < best) best = s;
  }
  return best;
}

// A case's traffic: `organizations` seeded with an owner each, and their
// events signed by Stripe's SDK.
struct Load {
  std::vector<SignedEvent> events;  // handed to the traffic
  std::size_t count = 0;
  std::set<std::string> effectKeys;
};

Load prepare(pqxx::connection_base& conn, const std::string& tag, int organizations) {
  seedOrganizations(conn, tag, organizations);
  testing::StripeSigner signer;
  auto workload = makeWorkload(tag, organizations, signer, kSecret);
  const auto count = workload.events.size();
  return {std::move(workload.events), count, std::move(workload.effectKeys)};
}

// The same on a connection of its own, closed before the case stops the
// server under it.
Load prepare(const std::string& url, const std::string& tag, int organizations) {
  pqxx::connection conn(url);
  return prepare(conn, tag, organizations);
}

std::string migrated(const std::string& url) {
  const auto r =
      testing::runCommand({testing::effectdBinary(), "migrate"}, {{"DATABASE_URL", url}});
  if (r.exitCode != 0) throw std::runtime_error("migrate: " + r.output);
  return url;
}

enum class Crashes { No, Yes };  // a daemon is killed in the case

Observed observe(std::string name, const std::string& databaseUrl, const StripeTraffic& traffic,
                 const Load& load, const Providers& providers, Crashes crashes = Crashes::No) {
  return {.name = std::move(name),
          .databaseUrl = databaseUrl,
          .traffic = &traffic,
          .events = load.count,
          .effectKeys = load.effectKeys,
          .providers = providers.tallies(),
          .crashes = crashes == Crashes::Yes};
}

// A third into the load, the database goes away for the scale's outage and
// comes back; returns when it is back.
Clock::time_point databaseOutage(const std::function<void()>& down,
                                 const std::function<void()>& up) {
  sleepFor(scale().load / 3);
  down();
  sleepFor(scale().databaseOutage);
  up();
  return Clock::now();
}

// The daemon must still be serving, unrestarted, after the fault.
void expectServing(Daemon& daemon, CaseOutcome& outcome) {
  if (!daemon.process().running()) {
    outcome.problems.push_back("effectd exited:\n" + daemon.log());
  } else if (daemon.get("/readyz").status != 200) {
    outcome.problems.push_back("effectd is not ready after the fault");
  }
}

// A database outage's figures and checks: Stripe was told 503 meanwhile,
// and the daemon took webhooks again by itself.
void afterDatabaseOutage(CaseOutcome& o, const StripeTraffic& traffic, Clock::time_point restored,
                         Daemon& daemon) {
  o.recoverySeconds = firstAcceptedAfter(traffic, restored);
  o.peakRssMiB = std::max(o.peakRssMiB, peakRssMiB(daemon.process().pid()));
  o.details["outageSeconds"] = scale().databaseOutage.count();
  if (o.unavailable == 0) o.problems.push_back("no 503 while the database was out");
  expectServing(daemon, o);
}

class Soak : public ::testing::Test {
 protected:
  // Judges the case and keeps its row for the table; `log` is a daemon's,
  // for when the case did not settle.
  void finish(Observed observed, bool settled, const std::string& log,
              const std::function<void(CaseOutcome&)>& complete) {
    auto outcome = judge(observed);
    if (!settled) outcome.problems.push_back("did not settle:\n" + log.substr(0, 4000));
    complete(outcome);
    for (const auto& p : outcome.problems) ADD_FAILURE() << observed.name << ": " << p;
    outcomes().push_back(std::move(outcome));
  }
};

TEST_F(Soak, PostgresStoppedForAWhile) {
  testing::TestCluster cluster;
  const auto url = migrated(cluster.url());
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(url, "pg", orgs);
  Daemon daemon(daemonEnv(url, providers));
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  const auto restored = databaseOutage([&] { cluster.stop(); }, [&] { cluster.start(); });
  const bool settled = settle(traffic, url);
  finish(observe("postgres stopped", url, traffic, load, providers), settled, daemon.log(),
         [&](CaseOutcome& o) { afterDatabaseOutage(o, traffic, restored, daemon); });
}

TEST_F(Soak, PostgresUnreachableWithoutReset) {
  testing::TestDatabase db;
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(db.conn(), "bh", orgs);
  testing::BlackHoleProxy proxy(testing::portOf(db.url()));
  Daemon daemon(daemonEnv(testing::throughPort(db.url(), proxy.port()), providers));
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  const auto restored =
      databaseOutage([&] { proxy.blackHole(true); }, [&] { proxy.blackHole(false); });
  const bool settled = settle(traffic, db.url());
  finish(observe("postgres unreachable", db.url(), traffic, load, providers), settled, daemon.log(),
         [&](CaseOutcome& o) { afterDatabaseOutage(o, traffic, restored, daemon); });
}

// kill -9 three times in a row under intake and drain load, each time
// restarted at once; email over a real SMTP server, which has no
// idempotency handle: what was in flight becomes `unknown`, never resent.
TEST_F(Soak, KilledAndRestartedThreeTimes) {
  testing::TestDatabase db;
  const int orgs = organizationsFor(scale().load);
  auto providers = Providers::withSmtp();
  auto load = prepare(db.conn(), "k9", orgs);
  const auto env = daemonEnv(db.url(), *providers);
  auto daemon = std::make_unique<Daemon>(env);
  std::atomic<std::uint16_t> port{daemon->port()};
  StripeTraffic traffic(std::move(load.events),
                        [&] {
                          const auto p = port.load();
                          return p == 0 ? std::vector<std::uint16_t>{} : std::vector{p};
                        },
                        {.eventsPerSecond = scale().rate});
  double peak = 0;
  std::vector<Clock::time_point> kills;
  for (int round = 0; round < 3; ++round) {
    sleepFor(scale().load / 4);
    peak = std::max(peak, peakRssMiB(daemon->process().pid()));
    daemon->process().stop(SIGKILL, 5s);
    port = 0;
    kills.push_back(Clock::now());
    daemon = std::make_unique<Daemon>(env);
    port = daemon->port();
  }
  const bool settled = settle(traffic, db.url());
  finish(observe("kill -9 x3", db.url(), traffic, load, *providers, Crashes::Yes), settled,
         daemon->log(), [&](CaseOutcome& o) {
           // Kill to the first webhook the restarted daemon accepted, at worst.
           for (const auto k : kills) {
             o.recoverySeconds = std::max(o.recoverySeconds, firstAcceptedAfter(traffic, k));
           }
           o.peakRssMiB = std::max(peak, peakRssMiB(daemon->process().pid()));
           o.details["kills"] = kills.size();
           o.details["unknown"] = o.unknown;
           expectServing(*daemon, o);
         });
}

// Three daemons on one database share the traffic (as behind a load
// balancer) and the queue; one is killed and not restarted: the other two
// take its traffic and, once its leases run out, its claimed effects.
TEST_F(Soak, ThreeInstancesOneKilled) {
  testing::TestDatabase db;
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(db.conn(), "ti", orgs);
  std::vector<std::unique_ptr<Daemon>> daemons;
  for (int i = 0; i < 3; ++i)
    daemons.push_back(std::make_unique<Daemon>(daemonEnv(db.url(), providers)));
  std::mutex mutex;
  std::vector<std::uint16_t> ports;
  for (const auto& d : daemons) ports.push_back(d->port());
  StripeTraffic traffic(std::move(load.events),
                        [&] {
                          std::lock_guard lock(mutex);
                          return ports;
                        },
                        {.eventsPerSecond = scale().rate});
  sleepFor(scale().load / 2);
  const auto victim = daemons[0]->process().pid();
  double peak = peakRssMiB(victim);
  daemons[0]->process().stop(SIGKILL, 5s);
  {
    std::lock_guard lock(mutex);
    ports.erase(ports.begin());
  }
  const auto killed = Clock::now();
  pqxx::connection conn(db.url());
  const auto claimsAtKill = [&] {
    pqxx::nontransaction tx(conn);
    return tx
        .exec_params1(R"(SELECT count(*) FROM "OutboundEffect"
                              WHERE "status" = 'running' AND "lockedBy" LIKE '%:' || $1 || ':%')",
                      victim)[0]
        .as<int>();
  }();
  const bool rescued = eventually(
      [&] {
        pqxx::nontransaction tx(conn);
        return tx
            .exec_params(R"(SELECT 1 FROM "OutboundEffect"
                                 WHERE "status" = 'running' AND "lockedBy" LIKE '%:' || $1 || ':%')",
                         victim)
            .empty();
      },
      60s);
  const auto rescueSeconds = Seconds(Clock::now() - killed).count();
  const bool settled = settle(traffic, db.url());
  finish(observe("3 instances, 1 killed", db.url(), traffic, load, providers, Crashes::Yes),
         settled, daemons[1]->log(), [&](CaseOutcome& o) {
           if (!rescued) o.problems.push_back("the killed instance's claims were never rescued");
           // Kill to the last of the killed instance's claims taken over
           // (none to take over when it held none at that moment).
           o.recoverySeconds = claimsAtKill > 0 ? rescueSeconds : -1;
           o.details["claimsHeldByTheKilledInstance"] = claimsAtKill;
           o.details["unknown"] = o.unknown;
           o.peakRssMiB = peak;
           for (std::size_t i = 1; i < daemons.size(); ++i) {
             o.peakRssMiB = std::max(o.peakRssMiB, peakRssMiB(daemons[i]->process().pid()));
             expectServing(*daemons[i], o);
           }
         });
}

// Three daemons on one database, and PostgreSQL stopped for longer than
// the lease: every daemon's claims expire meanwhile, and when the database
// is back each must write what it delivered before another one rescues them.
TEST_F(Soak, ThreeInstancesThroughAPostgresOutage) {
  testing::TestCluster cluster;
  const auto url = migrated(cluster.url());
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(url, "tp", orgs);
  std::vector<std::unique_ptr<Daemon>> daemons;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(std::make_unique<Daemon>(daemonEnv(url, providers)));
    ports.push_back(daemons.back()->port());
  }
  StripeTraffic traffic(std::move(load.events), [&] { return ports; },
                        {.eventsPerSecond = scale().rate});
  const auto restored = databaseOutage([&] { cluster.stop(); }, [&] { cluster.start(); });
  const bool settled = settle(traffic, url);
  finish(observe("3 instances, pg down", url, traffic, load, providers), settled, daemons[0]->log(),
         [&](CaseOutcome& o) {
           for (auto& d : daemons) afterDatabaseOutage(o, traffic, restored, *d);
         });
}

// PgBouncer in transaction mode between effectd and PostgreSQL (LISTEN
// direct), restarted and later paused for a while under intake and drain
// load: what a pooler's upgrade or a provider's maintenance does.
TEST_F(Soak, PgBouncerRestartedAndPaused) {
  testing::TestDatabase db;
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(db.conn(), "pb", orgs);
  testing::PgBouncer bouncer(db.url(), 4);
  auto env = daemonEnv(bouncer.through(db.url()), providers);
  env["DATABASE_POOLER"] = "transaction";
  env["DATABASE_LISTEN_URL"] = db.url();
  Daemon daemon(env);
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  sleepFor(scale().load / 4);
  bouncer.stop();
  sleepFor(2s);
  bouncer.start();
  const auto restarted = Clock::now();
  sleepFor(scale().load / 4);
  bouncer.admin("PAUSE");  // returns once every server connection is idle
  sleepFor(3s);
  bouncer.admin("RESUME");
  const bool settled = settle(traffic, db.url());
  finish(observe("pgbouncer restart, pause", db.url(), traffic, load, providers), settled,
         daemon.log(), [&](CaseOutcome& o) {
           o.recoverySeconds = firstAcceptedAfter(traffic, restarted);
           o.details["pauseSeconds"] = 3;
           o.peakRssMiB = peakRssMiB(daemon.process().pid());
           expectServing(daemon, o);
         });
}

// A primary with a synchronous streaming replica, so that every commit
// answered to effectd is on both. Under load the primary is stopped hard, the
// replica promoted a second later, and effectd, given both hosts with
// target_session_attrs=read-write, carries on against the new primary.
TEST_F(Soak, PrimaryFailsOverToItsSynchronousReplica) {
  testing::TestCluster primary;
  const auto replica =
      std::make_unique<testing::TestCluster>(testing::TestCluster::ReplicaOf{primary, "replica1"});
  {
    pqxx::connection conn(primary.url());
    pqxx::nontransaction(conn).exec("ALTER SYSTEM SET synchronous_standby_names = 'replica1'");
    pqxx::nontransaction(conn).exec("SELECT pg_reload_conf()");
    if (!eventually(
            [&] {
              return !pqxx::nontransaction(conn)
                          .exec("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'")
                          .empty();
            },
            10s)) {
      FAIL() << "the replica did not become synchronous";
    }
  }
  migrated(primary.url());
  // Both hosts; libpq takes the one that accepts writes.
  const auto url =
      "postgresql://postgres@127.0.0.1:" + std::to_string(testing::portOf(primary.url())) +
      ",127.0.0.1:" + std::to_string(testing::portOf(replica->url())) +
      "/effectd?target_session_attrs=read-write";
  const int orgs = organizationsFor(scale().load);
  Providers providers;
  auto load = prepare(url, "fo", orgs);
  Daemon daemon(daemonEnv(url, providers));
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  sleepFor(scale().load / 3);
  primary.crash();
  const auto crashed = Clock::now();
  sleepFor(1s);  // what a failover manager takes to decide, at the least
  replica->promote();
  const bool settled = settle(traffic, url);
  finish(observe("failover to replica", url, traffic, load, providers), settled, daemon.log(),
         [&](CaseOutcome& o) {
           o.recoverySeconds = firstAcceptedAfter(traffic, crashed);
           o.details["promotedAfterSeconds"] = 1;
           o.peakRssMiB = peakRssMiB(daemon.process().pid());
           expectServing(daemon, o);
         });
}

// Both providers answer 503 for a while, then 200: each effect is
// delivered once, after backoff, and waiting costs next to no CPU.
TEST_F(Soak, ProvidersUnavailableForAWhile) {
  testing::TestDatabase db;
  // Traffic for the first third of the outage; then only the retries remain.
  const int orgs = organizationsFor(scale().providerOutage / 3);
  Providers providers;
  providers.email.unavailable(true);
  providers.analytics.unavailable(true);
  auto load = prepare(db.conn(), "po", orgs);
  auto env = daemonEnv(db.url(), providers);
  env["EFFECTD_EFFECT_RETRY_MAX"] = "8";
  Daemon daemon(env);
  const auto outageEnds =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(scale().providerOutage);
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  std::this_thread::sleep_until(traffic.loadEnds() + 1s);
  const auto quietFrom = Clock::now();
  const auto cpuBefore = cpuSeconds(daemon.process().pid());
  std::this_thread::sleep_until(outageEnds);
  const auto cpu = cpuSeconds(daemon.process().pid()) - cpuBefore;
  const auto window = Seconds(Clock::now() - quietFrom).count();
  providers.email.unavailable(false);
  providers.analytics.unavailable(false);
  const auto restored = Clock::now();
  const bool settled = settle(traffic, db.url());
  const auto drained = Seconds(Clock::now() - restored).count();
  auto tallies = providers.tallies();
  finish(observe("providers 503", db.url(), traffic, load, providers), settled, daemon.log(),
         [&](CaseOutcome& o) {
           std::size_t refused = 0;
           for (const auto& t : tallies) refused += t.refused;
           if (refused == 0) o.problems.push_back("no provider ever answered 503: no outage seen");
           // Outage end to the last effect delivered.
           o.recoverySeconds = drained;
           o.peakRssMiB = peakRssMiB(daemon.process().pid());
           o.details["outageSeconds"] = scale().providerOutage.count();
           o.details["providerRefusals"] = refused;
           o.details["cpuSecondsRetryingOnly"] = rounded(cpu, 100);
           o.details["retryingOnlyWindowSeconds"] = rounded(window);
           // A busy loop would take a whole core.
           if (!kSanitized && window > 1 && cpu > 0.25 * window) {
             o.problems.push_back("effectd used " + std::to_string(cpu) + " s of CPU in " +
                                  std::to_string(window) + " s of waiting for providers");
           }
           expectServing(daemon, o);
         });
}

// Abusive clients (tests/soak/abuser.py) while genuine webhooks flow: the
// webhooks are all stored, every attack is refused or cut off, and memory
// stays bounded.
TEST_F(Soak, AbusiveClientsWhileWebhooksFlow) {
  testing::TestDatabase db;
  const int orgs = organizationsFor(2 * scale().abuse);
  Providers providers;
  auto load = prepare(db.conn(), "ab", orgs);
  Daemon daemon(daemonEnv(db.url(), providers));
  const auto quietFrom = Clock::now();
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  sleepFor(scale().abuse);
  const auto quietCpu = cpuSeconds(daemon.process().pid());
  const auto abuseFrom = Clock::now();
  const auto cpuBeforeAbuse = cpuSeconds(daemon.process().pid());
  const auto dir = testing::tempDirectory("effectd-abuse-");
  // Niced: on a real host the attackers' CPU is not effectd's to share.
  testing::ChildProcess abuser(
      {"/usr/bin/nice", "-n", "10", "/usr/bin/python3", EFFECTD_SOURCE_DIR "/tests/soak/abuser.py",
       "--port", std::to_string(daemon.port()), "--seconds", std::to_string(scale().abuse.count()),
       "--idle", std::to_string(scale().idleConnections), "--out", dir + "/abuse.json"},
      {}, dir + "/abuser.log");
  const bool abuserDone =
      eventually([&] { return !abuser.running(); },
                 std::chrono::duration_cast<std::chrono::seconds>(scale().abuse) + 60s);
  const auto abuseTo = Clock::now();
  const auto abuseCpu = cpuSeconds(daemon.process().pid()) - cpuBeforeAbuse;
  const auto peakDuringAbuse = peakRssMiB(daemon.process().pid());
  const bool settled = settle(traffic, db.url());
  const auto requests = traffic.requests();
  finish(observe("abusive clients", db.url(), traffic, load, providers), settled, daemon.log(),
         [&](CaseOutcome& o) {
           o.peakRssMiB = peakDuringAbuse;
           o.details["p50QuietMs"] = rounded(percentileMs(requests, 50, quietFrom, abuseFrom));
           o.details["p99QuietMs"] = rounded(percentileMs(requests, 99, quietFrom, abuseFrom));
           o.details["p50AbuseMs"] = rounded(percentileMs(requests, 50, abuseFrom, abuseTo));
           o.details["p99AbuseMs"] = rounded(percentileMs(requests, 99, abuseFrom, abuseTo));
           // effectd's own share of the two cores, quiet and under attack.
           o.details["cpuCoresQuiet"] =
               rounded(quietCpu / Seconds(abuseFrom - quietFrom).count(), 100);
           o.details["cpuCoresUnderAttack"] =
               rounded(abuseCpu / Seconds(abuseTo - abuseFrom).count(), 100);
           const auto report = testing::readFile(dir + "/abuse.json");
           if (!abuserDone || report.empty()) {
             o.problems.push_back("the abuser did not finish: " +
                                  testing::readFile(dir + "/abuser.log"));
             return;
           }
           const auto attacks = nlohmann::json::parse(report);
           o.details["attacks"] = attacks;
           for (const auto& [name, a] : attacks.items()) {
             for (const auto& [status, n] : a["statuses"].items()) {
               if (status.starts_with("2")) {
                 o.problems.push_back(name + ": " + std::to_string(n.get<int>()) + " answered " +
                                      status);
               }
             }
           }
           // Trickled requests are cut off at the read timeout (10 s), and
           // idle connections beyond EFFECTD_MAX_CONNECTIONS (1024) closed.
           for (const auto* name : {"slowloris headers", "slowloris body"}) {
             if (attacks[name]["longestHeldSeconds"].get<double>() > 15) {
               o.problems.push_back(std::string(name) + " held a connection past the read timeout");
             }
           }
           if (attacks["idle connections"]["heldAtEnd"].get<int>() > 1024) {
             o.problems.push_back("more idle connections held than EFFECTD_MAX_CONNECTIONS");
           }
           // Bounded: a 100 MB body is never buffered, nor 10,000 connections' worth of state.
           if (!kSanitized && o.peakRssMiB > 256) o.problems.push_back("peak RSS over 256 MiB");
           expectServing(daemon, o);
           testing::runCommand({"rm", "-rf", dir});
         });
}

// The verdict itself, against broken promises planted after a clean run: a
// stored event deleted (lost), an email posted to the provider a second
// time (duplicate), an effect put back to running (stuck). A soak whose
// checks could not fail would prove nothing.
TEST(SoakVerdict, CatchesALostEventADuplicateAndAStuckEffect) {
  testing::TestDatabase db;
  Providers providers;
  auto load = prepare(db.conn(), "nc", 10);
  Daemon daemon(daemonEnv(db.url(), providers));
  StripeTraffic traffic(std::move(load.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = 100});
  ASSERT_TRUE(settle(traffic, db.url())) << daemon.log();
  Observed observed{.name = "control",
                    .databaseUrl = db.url(),
                    .traffic = &traffic,
                    .events = load.count,
                    .effectKeys = load.effectKeys,
                    .providers = providers.tallies()};
  const auto clean = judge(observed);
  ASSERT_TRUE(clean.passed()) << clean.toJson().dump(1);

  const auto accepted = traffic.acceptedIds();
  db.scalar(R"(DELETE FROM "StripeWebhookEvent" WHERE "id" = ')" + accepted.front() + "'");
  const auto first = providers.email.requests().front();
  daemon::HttpCall again{.port = providers.email.port(),
                         .target = first["path"].get<std::string>(),
                         .headers = {{"Content-Type", "application/json"}},
                         .body = first["body"].get<std::string>()};
  ASSERT_EQ(daemon::httpCall(again).status, 200);
  db.scalar(R"(UPDATE "OutboundEffect" SET "status" = 'running'
               WHERE "key" = 'analytics:invoice_paid:in_pnc3')");
  observed.providers = providers.tallies();
  const auto broken = judge(observed);
  EXPECT_FALSE(broken.passed());
  EXPECT_EQ(broken.lost, 1u);
  EXPECT_EQ(broken.duplicates, 1u);
  EXPECT_EQ(broken.stuck, 1u);
}

}  // namespace
}  // namespace effectd::soak

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  using effectd::soak::outcomes;
  if (!outcomes().empty()) {
    effectd::soak::printTable(outcomes());
    if (const char* out = std::getenv("EFFECTD_SOAK_OUT")) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& o : outcomes()) all.push_back(o.toJson());
      std::ofstream(out) << nlohmann::json{{"mode", effectd::soak::scale().full ? "full" : "short"},
                                           {"cases", all}}
                                .dump(1)
                         << "\n";
    }
  }
  return status;
}
