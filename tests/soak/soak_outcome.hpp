// The verdict on one soak case, from what a user would check: what Stripe
// was answered, the rows in the tables, and the bytes that reached the
// providers' stand-ins.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/soak/stripe_traffic.hpp"

namespace effectd::testing {
class ProviderStandIn;
class SmtpServer;
}  // namespace effectd::testing

namespace effectd::soak {

// One message a provider accepted, named by the handle effectd derives from
// the effect's key (Message-ID, PostHog's uuid).
struct Delivery {
  std::string identifier;
  bool providerDeduplicates = false;  // Resend's Idempotency-Key, PostHog's uuid
  std::string sample;                 // the start of what arrived, for a problem's text
};

struct ProviderTally {
  std::vector<Delivery> accepted;
  std::size_t refused = 0;  // answered anything but 2xx
};

ProviderTally postmarkTally(const testing::ProviderStandIn& standIn);
ProviderTally postHogTally(const testing::ProviderStandIn& standIn);
ProviderTally smtpTally(const testing::SmtpServer& server);

struct CaseOutcome {
  std::string name;
  std::size_t requests = 0, ok = 0, unavailable = 0, otherStatus = 0, noAnswer = 0,
              unavailableWithoutRetryAfter = 0;
  std::size_t events = 0, lost = 0, unanswered = 0, missingEffects = 0, duplicates = 0,
              providerDeduplicated = 0, stray = 0, stuck = 0, dead = 0, unknown = 0, sent = 0;
  double recoverySeconds = -1;  // < 0: not applicable
  double peakRssMiB = 0;
  nlohmann::json details = nlohmann::json::object();
  std::vector<std::string> problems;
  bool passed() const { return problems.empty(); }
  nlohmann::json toJson() const;
};

struct Observed {
  std::string name;
  std::string databaseUrl;
  const StripeTraffic* traffic = nullptr;
  std::size_t events = 0;
  std::set<std::string> effectKeys;  // expected, all of them
  std::vector<ProviderTally> providers;
  // A daemon was killed: `unknown` effects, requests without an answer and
  // resends to a deduplicating provider are expected then, and only then.
  bool crashes = false;
};

// Counts and checks; every broken promise becomes a problem.
CaseOutcome judge(const Observed& observed);

// VmHWM of a live process, in MiB.
double peakRssMiB(pid_t pid);
// User plus system CPU time of a live process, in seconds.
double cpuSeconds(pid_t pid);

void printTable(const std::vector<CaseOutcome>& outcomes);

}  // namespace effectd::soak
