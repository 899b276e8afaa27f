// Reading StripeWebhookEvent rows back: for the retry loop, `events list`,
// `events show` and `events replay`; and retention's deletes. The SQL of the
// table's reads lives here.
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

// Retention of events: deletes up to `limit` finished (processed or ignored)
// ones received more than `seconds` ago; returns how many. An event stored
// again after this (a dashboard resend) runs its handler again, which
// changes nothing: the ordering guard refuses the old state and every effect
// it enqueues has a key that is still used.
int pruneFinishedEvents(pqxx::transaction_base& tx, double seconds, int limit);

}  // namespace effectd::intake
