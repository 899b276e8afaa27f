// The soak: steady Stripe traffic and effect deliveries while faults are
// injected, then the promises checked from what Stripe was answered, the
// tables and the stand-ins (tests/soak/soak_outcome.hpp). EFFECTD_SOAK=full
// (make soak) runs each case at full length; otherwise (make test) a short
// variant. The table is printed at the end, and written as JSON to
// EFFECTD_SOAK_OUT when set.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "tests/soak/soak_outcome.hpp"
#include "tests/soak/soak_workload.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::soak {
namespace {

using namespace std::chrono_literals;
using testing::Daemon;
using testing::EnvOverrides;
using testing::eventually;
using Seconds = std::chrono::duration<double>;

const std::string kSecret = "whsec_soak";

struct Scale {
  bool full = false;
  double rate = 40;            // new events per second
  Seconds load{6};             // how long the steady traffic lasts
  Seconds databaseOutage{3};   // PostgreSQL stopped, or a black hole
  Seconds providerOutage{6};   // providers answering 503
  Seconds abuse{8};            // abusive clients, after as long a quiet phase
  int idleConnections = 2000;
  std::chrono::seconds settle{90};
};

const Scale& scale() {
  static const Scale s = [] {
    Scale s;
    if (const char* mode = std::getenv("EFFECTD_SOAK"); mode && std::string(mode) == "full") {
      s = {.full = true, .rate = 100, .load = 30s, .databaseOutage = 10s, .providerOutage = 30s,
           .abuse = 20s, .idleConnections = 10000, .settle = 180s};
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
  // Cast away: waiting is all it does.
  if (!const_cast<StripeTraffic&>(traffic).waitUntilAllAccepted(scale().settle)) return false;
  pqxx::connection conn(databaseUrl);
  return eventually(
      [&] {
        pqxx::nontransaction tx(conn);
        return tx.exec(R"(SELECT 1 FROM "StripeWebhookEvent" WHERE "status" = 'received'
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

std::string migrated(const std::string& url) {
  const auto r = testing::runCommand({testing::effectdBinary(), "migrate"}, {{"DATABASE_URL", url}});
  if (r.exitCode != 0) throw std::runtime_error("migrate: " + r.output);
  return url;
}

class Soak : public ::testing::Test {
 protected:
  // Judges the case and keeps its row for the table.
  void finish(Observed observed, const std::function<void(CaseOutcome&)>& complete) {
    auto outcome = judge(observed);
    complete(outcome);
    for (const auto& p : outcome.problems) ADD_FAILURE() << observed.name << ": " << p;
    outcomes().push_back(std::move(outcome));
  }
  // The daemon must still be serving, unrestarted, after the fault.
  static void expectServing(Daemon& daemon, CaseOutcome& outcome) {
    if (!daemon.process().running()) {
      outcome.problems.push_back("effectd exited:\n" + daemon.log());
    } else if (daemon.get("/readyz").status != 200) {
      outcome.problems.push_back("effectd is not ready after the fault");
    }
  }
};

TEST_F(Soak, PostgresStoppedForAWhile) {
  testing::TestCluster cluster;
  const auto url = migrated(cluster.url());
  const int orgs = organizationsFor(scale().load);
  {
    pqxx::connection c(url);
    seedOrganizations(c, "pg", orgs);
  }
  Providers providers;
  testing::StripeSigner signer;
  auto workload = makeWorkload("pg", orgs, signer, kSecret);
  const auto events = workload.events.size();
  Daemon daemon(daemonEnv(url, providers));
  StripeTraffic traffic(std::move(workload.events), [&] { return std::vector{daemon.port()}; },
                        {.eventsPerSecond = scale().rate});
  sleepFor(scale().load / 3);
  cluster.stop();
  sleepFor(scale().databaseOutage);
  cluster.start();
  const auto restored = Clock::now();
  const bool settled = settle(traffic, url);
  finish({.name = "postgres stopped", .databaseUrl = url, .traffic = &traffic,
          .events = events, .effectKeys = workload.effectKeys,
          .providers = providers.tallies()},
         [&](CaseOutcome& o) {
           if (!settled) o.problems.push_back("did not settle:\n" + daemon.log().substr(0, 4000));
           o.recoverySeconds = firstAcceptedAfter(traffic, restored);
           o.peakRssMiB = peakRssMiB(daemon.process().pid());
           o.details["outageSeconds"] = scale().databaseOutage.count();
           expectServing(daemon, o);
         });
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
