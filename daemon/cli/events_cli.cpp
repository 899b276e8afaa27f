#include "daemon/cli/events_cli.hpp"

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "daemon/cli/cli_database.hpp"
#include "daemon/cli/operator_json.hpp"
#include "handlers/event_processor.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {
using nlohmann::json;

int eventsList(const config::Config& config, const intake::EventFilter& filter, bool asJson) {
  return withDatabase(config, "events list", [&](pqxx::connection_base& conn) {
    pqxx::read_transaction tx(conn);
    const auto events = intake::selectEvents(tx, filter);
    if (asJson) {
      json out = json::array();
      for (const auto& e : events) out.push_back(toJson(e));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(34) << "ID" << std::setw(40) << "TYPE" << std::setw(10)
              << "STATUS" << std::setw(9) << "ATTEMPTS" << std::setw(26) << "RECEIVED"
              << "LAST ERROR\n";
    for (const auto& e : events) {
      std::cout << std::setw(34) << e.envelope.id << std::setw(40) << e.envelope.type
                << std::setw(10) << e.status << std::setw(9) << e.attempts << std::setw(26)
                << e.receivedAt << e.lastError << "\n";
    }
    return 0;
  });
}

int eventsShow(const config::Config& config, const std::string& id, bool asJson) {
  return withDatabase(config, "events show", [&](pqxx::connection_base& conn) {
    pqxx::read_transaction tx(conn);
    const auto events = intake::selectEvents(tx, {.id = id, .limit = 1, .withPayload = true});
    if (events.empty()) {
      std::cerr << "effectd events show: no event " << id << "\n";
      return 1;
    }
    std::cout << toJson(events.front()).dump(asJson ? -1 : 2) << "\n";
    return 0;
  });
}

int eventsReplay(const config::Config& config, intake::EventFilter filter, bool asJson,
                 bool relink) {
  if (filter.id.empty() && filter.status.empty() && filter.type.empty() && filter.since.empty()) {
    std::cerr << "effectd events replay: name an event id, or --status, --type or --since\n";
    return 2;
  }
  if (relink && filter.id.empty()) {
    std::cerr << "effectd events replay: --relink applies to one event: name its id\n";
    return 2;
  }
  filter.withPayload = true;
  const auto policy = handlers::eventRetryPolicy(config);
  return withDatabase(config, "events replay", [&](pqxx::connection_base& conn) {
    std::vector<intake::StoredEvent> events;
    {
      pqxx::read_transaction tx(conn);
      events = intake::selectEvents(tx, filter);
    }
    if (events.empty() && !filter.id.empty()) {
      std::cerr << "effectd events replay: no event " << filter.id << "\n";
      return 1;
    }
    int failed = 0;
    json out = json::array();
    for (const auto& e : events) {
      const auto outcome = handlers::replayEvent(conn, {&e.envelope, e.payload, relink}, policy);
      failed += outcome.status == handlers::EventStatus::Failed;
      const auto status = std::string(handlers::toString(outcome.status));
      if (asJson) {
        out.push_back({{"id", e.envelope.id}, {"status", status}, {"error", outcome.error}});
      } else {
        std::cout << e.envelope.id << "  " << e.envelope.type << "  " << status
                  << (outcome.error.empty() ? "" : "  " + outcome.error) << "\n";
      }
    }
    if (asJson) std::cout << out.dump(2) << "\n";
    if (!asJson) std::cout << events.size() << " replayed, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
  });
}

}  // namespace effectd::daemon
