#include "tests/soak/soak_outcome.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <sstream>

#include "queue/email_message.hpp"
#include "sql/ids.hpp"
#include "tests/support/standin.hpp"

namespace effectd::soak {
namespace {

using nlohmann::json;

bool accepted(const json& record) {
  return record.value("status", json()).is_number() && record["status"].get<int>() / 100 == 2;
}

// A record's header value from a MIME text, "" when absent.
std::string mimeHeader(const std::string& content, const std::string& name) {
  std::istringstream lines(content);
  for (std::string line; std::getline(lines, line) && line != "\r" && !line.empty();) {
    if (line.size() > name.size() + 1 && line.compare(0, name.size() + 1, name + ":") == 0) {
      auto value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
  }
  return "";
}

}  // namespace

ProviderTally postmarkTally(const testing::ProviderStandIn& standIn) {
  ProviderTally t;
  for (const auto& r : standIn.requests()) {
    if (!accepted(r)) {
      ++t.refused;
      continue;
    }
    std::string id;
    const auto body = json::parse(r["body"].get<std::string>());
    for (const auto& h : body["Headers"]) {
      if (h["Name"] == "Message-ID") id = h["Value"].get<std::string>();
    }
    t.accepted.push_back({.identifier = id, .sample = r["body"].get<std::string>().substr(0, 300)});
  }
  return t;
}

ProviderTally postHogTally(const testing::ProviderStandIn& standIn) {
  ProviderTally t;
  for (const auto& r : standIn.requests()) {
    if (!accepted(r)) {
      ++t.refused;
      continue;
    }
    const auto body = json::parse(r["body"].get<std::string>());
    for (const auto& item : body["batch"]) {
      t.accepted.push_back({.identifier = item.value("uuid", ""),
                            .providerDeduplicates = true,
                            .sample = item.dump().substr(0, 300)});
    }
  }
  return t;
}

ProviderTally smtpTally(const testing::SmtpServer& server) {
  ProviderTally t;
  for (const auto& m : server.messages()) {
    const auto content = m["content"].get<std::string>();
    t.accepted.push_back(
        {.identifier = mimeHeader(content, "Message-ID"), .sample = content.substr(0, 300)});
  }
  return t;
}

CaseOutcome judge(const Observed& o) {
  CaseOutcome out;
  out.name = o.name;
  out.events = o.events;
  auto problem = [&](std::string text) { out.problems.push_back(std::move(text)); };

  for (const auto& r : o.traffic->requests()) {
    ++out.requests;
    if (r.status / 100 == 2) {
      ++out.ok;
    } else if (r.status == 503) {
      ++out.unavailable;
      out.unavailableWithoutRetryAfter += !r.retryAfter;
    } else if (r.status == 0) {
      ++out.noAnswer;
    } else {
      ++out.otherStatus;
    }
  }
  if (out.otherStatus > 0)
    problem(std::to_string(out.otherStatus) + " answers neither 2xx nor 503");
  if (out.unavailableWithoutRetryAfter > 0) {
    problem(std::to_string(out.unavailableWithoutRetryAfter) + " answers 503 without Retry-After");
  }
  // Only a killed daemon leaves Stripe without an answer; a live one says 503.
  if (out.noAnswer > 0 && !o.crashes) {
    problem(std::to_string(out.noAnswer) + " requests got no answer from a live daemon");
  }
  out.unanswered = o.traffic->unacceptedIds().size();
  if (out.unanswered > 0) problem(std::to_string(out.unanswered) + " events never answered 2xx");

  pqxx::connection conn(o.databaseUrl);
  pqxx::read_transaction tx(conn);
  std::map<std::string, std::string> eventStatus;
  // A failed event with a next attempt is waiting for its retry.
  for (const auto& row :
       tx.exec(R"(SELECT "id", CASE WHEN "status" = 'failed' AND "nextAttemptAt" IS NOT NULL
                                                     THEN 'retrying' ELSE "status" END
                                    FROM "StripeWebhookEvent")")) {
    eventStatus[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  for (const auto& id : o.traffic->acceptedIds()) {
    const auto it = eventStatus.find(id);
    if (it == eventStatus.end() || it->second == "failed") {
      ++out.lost;
      if (out.lost <= 3)
        problem(std::string("answered 2xx but ") +
                (it == eventStatus.end() ? "not stored: " : "never applied: ") + id);
    } else if (it->second == "received" || it->second == "retrying") {
      ++out.stuck;
    }
  }

  for (const auto& row : tx.exec(R"(SELECT "id", "lastError" FROM "StripeWebhookEvent"
                                    WHERE "status" = 'failed' AND "nextAttemptAt" IS NULL
                                    LIMIT 3)")) {
    problem("event " + row[0].as<std::string>() + " failed: " + row[1].c_str());
  }
  std::map<std::string, std::string> effectStatus;
  for (const auto& row : tx.exec(R"(SELECT "key", "status" FROM "OutboundEffect")")) {
    effectStatus[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  std::size_t unexpected = 0;
  for (const auto& [key, status] : effectStatus) {
    if (!o.effectKeys.contains(key) && ++unexpected <= 3)
      problem("an effect no event should cause: " + key);
  }
  // Each expected key's handles: the Message-ID of an email, PostHog's uuid.
  std::map<std::string, std::string> keyOf;
  for (const auto& key : o.effectKeys) {
    keyOf[key.starts_with("email:") ? queue::messageIdFor(key) : sql::uuidV5(key)] = key;
  }
  std::map<std::string, std::size_t> deliveries;
  for (const auto& provider : o.providers) {
    for (const auto& d : provider.accepted) {
      const auto it = keyOf.find(d.identifier);
      if (it == keyOf.end()) {
        if (++out.stray <= 3)
          problem("a provider got a message of no expected effect: " + d.sample);
        continue;
      }
      if (++deliveries[it->second] > 1) {
        if (d.providerDeduplicates && o.crashes) {
          ++out.providerDeduplicated;
        } else if (++out.duplicates <= 3) {
          problem("delivered twice: " + it->second);
        }
      }
    }
  }
  if (out.duplicates > 3) problem(std::to_string(out.duplicates) + " duplicates in all");
  for (const auto& key : o.effectKeys) {
    const auto it = effectStatus.find(key);
    const auto status = it == effectStatus.end() ? std::string() : it->second;
    const auto n = deliveries[key];
    if (status.empty()) {
      if (++out.missingEffects <= 3) problem("never enqueued: " + key);
    } else if (status == "sent") {
      ++out.sent;
      if (n == 0 && ++out.missingEffects <= 3)
        problem("marked sent, never reached a provider: " + key);
    } else if (status == "unknown") {
      // A delivery a killed process was waiting for: allowed then, and never resent.
      if (++out.unknown <= 3 && !o.crashes) problem("unknown without a crash: " + key);
      if (n > 1 && ++out.duplicates <= 3) problem("unknown, and delivered twice: " + key);
    } else if (status == "dead") {
      ++out.dead;
      if (out.dead <= 3) problem("dead: " + key);
    } else {
      ++out.stuck;  // pending, running
    }
  }
  if (out.lost > 3) problem(std::to_string(out.lost) + " lost events in all");
  if (out.stuck > 0)
    problem(std::to_string(out.stuck) + " events or effects left received/pending/running");
  return out;
}

nlohmann::json CaseOutcome::toJson() const {
  json j{{"case", name},
         {"requests", requests},
         {"ok", ok},
         {"status503", unavailable},
         {"otherStatus", otherStatus},
         {"noAnswer", noAnswer},
         {"events", events},
         {"lost", lost},
         {"unanswered", unanswered},
         {"missingEffects", missingEffects},
         {"duplicates", duplicates},
         {"resentToDeduplicatingProvider", providerDeduplicated},
         {"stray", stray},
         {"stuck", stuck},
         {"dead", dead},
         {"unknown", unknown},
         {"sent", sent},
         {"peakRssMiB", peakRssMiB},
         {"passed", passed()},
         {"problems", problems},
         {"details", details}};
  j["recoverySeconds"] = recoverySeconds < 0 ? json() : json(recoverySeconds);
  return j;
}

double peakRssMiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double cpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command's closing parenthesis: state is field 3; utime 14, stime 15.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void printTable(const std::vector<CaseOutcome>& outcomes) {
  std::printf("\n%-18s %9s %9s %7s %5s %5s %5s %9s %8s  %s\n", "case", "requests", "200s", "503s",
              "lost", "dup", "stuck", "recovery", "peak RSS", "result");
  for (const auto& c : outcomes) {
    char recovery[32] = "-";
    if (c.recoverySeconds >= 0)
      std::snprintf(recovery, sizeof recovery, "%.2f s", c.recoverySeconds);
    std::printf("%-18s %9zu %9zu %7zu %5zu %5zu %5zu %9s %4.0f MiB  %s\n", c.name.c_str(),
                c.requests, c.ok, c.unavailable, c.lost + c.missingEffects + c.unanswered,
                c.duplicates, c.stuck, recovery, c.peakRssMiB, c.passed() ? "pass" : "FAIL");
  }
  for (const auto& c : outcomes) {
    auto details = c.details;
    const auto attacks = details.contains("attacks") ? details["attacks"] : json();
    details.erase("attacks");
    if (!details.empty()) std::printf("  %s: %s\n", c.name.c_str(), details.dump().c_str());
    for (const auto& [attack, a] : attacks.items()) {
      std::printf("    %-22s tries %-6d closed by effectd %-6d answers %s\n", attack.c_str(),
                  a.value("tries", 0), a.value("closedByServer", 0), a["statuses"].dump().c_str());
    }
    for (const auto& p : c.problems) std::printf("  %s: %s\n", c.name.c_str(), p.c_str());
  }
  std::fflush(stdout);
}

}  // namespace effectd::soak
