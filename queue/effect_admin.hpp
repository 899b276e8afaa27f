// What operators do to OutboundEffect: look (list, show, stats) and steer
// (retry, cancel). Used by `effectd effects …`.
#pragma once

#include <string>
#include <vector>

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

// dead, unknown or cancelled → pending now, attempts reset; returns rows changed.
int retryEffect(pqxx::connection_base& conn, const std::string& idOrKey);
// pending, dead or unknown → cancelled; returns rows changed.
int cancelEffect(pqxx::connection_base& conn, const std::string& idOrKey);

struct EffectStat {
  std::string kind;
  std::string status;
  long count = 0;
  double oldestSeconds = 0;  // age of the oldest row in this state
};
std::vector<EffectStat> effectStats(pqxx::connection_base& conn);

// How the queue keeps up, for `effects stats`, the admin page and /metrics.
struct QueueHealth {
  long sentLastMinute = 0;         // effects a provider accepted in the last 60 s
  long due = 0;                    // pending effects whose time has come
  double oldestDueSeconds = 0;     // how long the oldest of those has waited
};
QueueHealth queueHealth(pqxx::connection_base& conn);

}  // namespace effectd::queue
