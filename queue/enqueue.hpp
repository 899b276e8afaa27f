// Enqueueing an OutboundEffect: INSERT … ON CONFLICT ("key") DO NOTHING, in
// the caller's transaction. The first writer of a key wins and later ones are
// no-ops: that is the only deduplication, and it holds across retries,
// replays, sibling events and other writers (the app, plain SQL).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pqxx {
class transaction_base;
}

namespace effectd::queue {

enum class EffectKind { Email, Analytics, Webhook };
std::string_view toString(EffectKind kind);
std::optional<EffectKind> parseEffectKind(std::string_view text);

struct NewEffect {
  std::string key;  // the semantic key, e.g. email:payment_failed:in_123:2
  EffectKind kind = EffectKind::Email;
  std::string payload;         // JSON
  std::string organizationId;  // empty: none
  std::string sourceEventId;   // empty: none
  std::string runAt;           // ISO 8601 UTC; empty: now
  int maxAttempts = 0;         // 0: the table's default
};

// Enqueues them in one statement, in key order (so that two writers of the
// same keys never wait for each other in a cycle); of the same key twice,
// the first wins. Returns how many this call created.
int enqueueAll(pqxx::transaction_base& tx, std::span<const NewEffect> effects);

// True when this call created the effect, false when the key existed.
bool enqueue(pqxx::transaction_base& tx, const NewEffect& effect);

}  // namespace effectd::queue
