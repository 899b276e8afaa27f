// What operators do to OutboundEffect: look (list, show, stats) and steer
// (retry, cancel). Used by `effectd effects …`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "queue/effect_status.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::queue {

struct EffectRow {
  std::string id, key, kind, status, payload, organizationId, sourceEventId, lockedBy, lastError,
      providerMessageId, runAt, lockedUntil, sentAt, createdAt, updatedAt;
  int attempts = 0;
  int maxAttempts = 0;
};

struct EffectFilter {
  std::string status;
  std::string kind;
  std::string keyPrefix;
  int limit = 100;
  bool withPayload = false;
};

std::vector<EffectRow> listEffects(pqxx::connection_base& conn, const EffectFilter& filter);
// By id or key.
std::vector<EffectRow> findEffect(pqxx::connection_base& conn, const std::string& idOrKey);

// What an operator's retry or cancel applies to: one effect by id or key,
// or every effect the filters match (all that are given must match).
struct EffectSelection {
  std::string idOrKey;
  std::string status;
  std::string kind;
  std::string keyPrefix;
  std::string since;  // createdAt >= this (ISO 8601, or anything PostgreSQL reads as a time)
  bool empty() const {
    return idOrKey.empty() && status.empty() && kind.empty() && keyPrefix.empty() && since.empty();
  }
};

// How many selected effects the command would change (those in a status
// it applies to, with their payload for a retry).
long countSteerable(pqxx::connection_base& conn, const EffectSelection& selection,
                    OperatorCommand command);
// Retry: dead, unknown or cancelled → pending now, attempts reset.
// Cancel: pending, dead or unknown → cancelled. One transaction; returns
// the rows changed. With `expected` (the count an operator confirmed), a
// selection that has changed meanwhile changes nothing and returns -1.
int steerEffects(pqxx::connection_base& conn, const EffectSelection& selection,
                 OperatorCommand command, std::optional<long> expected = std::nullopt);

struct EffectStat {
  std::string kind;
  std::string status;
  long count = 0;
  double oldestSeconds = 0;  // age of the oldest row in this state
};
std::vector<EffectStat> effectStats(pqxx::connection_base& conn);
// The same for the statuses that make up the queue (pending, running, dead,
// unknown) only: read through the (status, updatedAt) index, so it costs what
// the queue holds, not what retention keeps.
std::vector<EffectStat> queueCounts(pqxx::connection_base& conn);

// How the queue keeps up, for `effects stats`, the admin page and /metrics.
struct QueueHealth {
  long sentLastMinute = 0;      // effects a provider accepted in the last 60 s
  long due = 0;                 // pending effects whose time has come
  double oldestDueSeconds = 0;  // how long the oldest of those has waited
};
QueueHealth queueHealth(pqxx::connection_base& conn);

}  // namespace effectd::queue
