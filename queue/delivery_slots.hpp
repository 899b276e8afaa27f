// How many effects the drainer may claim, and whether a queued one may
// start: arithmetic over what it holds, kept apart from its threads so that
// a test can state the rules.
//
// Effects of a provider that does not deduplicate (SMTP, Postmark) are
// never claimed beyond the free delivery slots: after a crash each claimed
// one becomes `unknown`. They go to the front of the line, and when both
// kinds are routed, a quarter of the slots (at least one) are kept from the
// others, so that a backlog of webhooks never leaves an email waiting for a
// slot. Effects of providers that deduplicate are claimed up to a batch
// ahead of the slots, so that a claim's round trip never leaves the slots
// idle: after a crash they only go back to pending. Everything in hand is
// bounded too, delivered effects whose outcome is not written yet included:
// a slow completer slows the claims instead of letting memory and leases grow.
#pragma once

#include <algorithm>

namespace effectd::queue {

struct DeliverySlots {
  int concurrency = 8;  // deliveries in flight
  int batchSize = 32;   // effects per claim
  int reserved = 0;     // slots deliveries of deduplicating providers leave free

  // What the drainer holds now.
  struct InHand {
    int held = 0;             // leased here and not completed or given back
    int queued = 0;           // claimed, waiting for a delivery thread
    int strictQueued = 0;     // of those, of a provider that does not deduplicate
    int delivering = 0;       // taken by a delivery thread, not finished
    int deliveringAhead = 0;  // of those, of a provider that deduplicates
  };

  // A quarter of the slots (at least one) when both kinds of provider are
  // routed and there is more than one slot; otherwise none.
  static int reservedFor(int concurrency, bool bothKindsRouted) {
    return bothKindsRouted && concurrency > 1 ? std::max(1, concurrency / 4) : 0;
  }

  int inHandRoom(const InHand& h) const { return concurrency + 2 * batchSize - h.held; }
  // For providers that do not deduplicate: the slots no delivery holds and no
  // queued effect will take (queued deduplicating ones take the slots not
  // kept for the others).
  int strictRoom(const InHand& h) const {
    const int aheadQueued = h.queued - h.strictQueued;
    const int aheadWillTake =
        std::min(aheadQueued, std::max(0, concurrency - reserved - h.deliveringAhead));
    return std::min(concurrency - h.delivering - h.strictQueued - aheadWillTake, inHandRoom(h));
  }
  // For providers that deduplicate: up to a batch beyond the slots.
  int aheadRoom(const InHand& h) const {
    return std::min(concurrency + batchSize - h.delivering - h.queued, inHandRoom(h));
  }
  bool mayStart(const InHand& h, bool deduplicates) const {
    return !deduplicates || h.deliveringAhead < concurrency - reserved;
  }
};

}  // namespace effectd::queue
