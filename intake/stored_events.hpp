// Reading StripeWebhookEvent rows back: for the retry loop, `events list`,
// `events show` and `events replay`. The SQL of the table's reads lives here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "handlers/stripe_event.hpp"

namespace pqxx {
class transaction_base;
}

namespace effectd::intake {

struct StoredEvent {
  handlers::EventEnvelope envelope;
  std::string payload;  // empty unless asked for
  std::string status;
  int attempts = 0;
  std::string lastError;
  std::string nextAttemptAt;  // ISO 8601 UTC, empty when none
  std::string receivedAt;
  std::string processedAt;
};

struct EventFilter {
  std::string id;      // exact id
  std::string status;  // received | processed | ignored | failed
  std::string type;
  std::string since;  // receivedAt >= this (ISO 8601 or anything PostgreSQL reads as a time)
  int limit = 100;
  bool withPayload = false;
  bool dueForRetry = false;     // never handled, or failed and due; oldest first
  bool lockSkipLocked = false;  // FOR UPDATE SKIP LOCKED: several daemons share the work
};

std::vector<StoredEvent> selectEvents(pqxx::transaction_base& tx, const EventFilter& filter);

}  // namespace effectd::intake
