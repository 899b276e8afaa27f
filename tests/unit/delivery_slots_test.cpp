// The drainer's room to claim and its starting order, as numbers: the rules
// that keep an SMTP email from ever being leased beyond a free slot.
#include "queue/delivery_slots.hpp"

#include <gtest/gtest.h>

namespace effectd::queue {
namespace {

using InHand = DeliverySlots::InHand;

TEST(DeliverySlotsTest, AQuarterOfTheSlotsIsKeptOnlyWhenBothKindsAreRouted) {
  EXPECT_EQ(DeliverySlots::reservedFor(8, true), 2);
  EXPECT_EQ(DeliverySlots::reservedFor(3, true), 1);  // at least one
  EXPECT_EQ(DeliverySlots::reservedFor(2, true), 1);
  EXPECT_EQ(DeliverySlots::reservedFor(1, true), 0);  // one slot cannot be split
  EXPECT_EQ(DeliverySlots::reservedFor(8, false), 0);
}

TEST(DeliverySlotsTest, AnEmptyHandClaimsABatchOfEitherKind) {
  const DeliverySlots slots{.concurrency = 8, .batchSize = 32, .reserved = 2};
  EXPECT_EQ(slots.strictRoom({}), 8);
  EXPECT_EQ(slots.aheadRoom({}), 40);  // a batch beyond the slots
  EXPECT_EQ(slots.inHandRoom({}), 72);
}

TEST(DeliverySlotsTest, StrictEffectsAreNeverClaimedBeyondTheFreeSlots) {
  const DeliverySlots slots{.concurrency = 4, .batchSize = 10, .reserved = 1};
  // Two SMTP deliveries running and one waiting: one slot left.
  EXPECT_EQ(slots.strictRoom({.held = 3, .queued = 1, .strictQueued = 1, .delivering = 2}), 1);
  // Every slot taken: nothing, whatever the hand's room.
  EXPECT_EQ(slots.strictRoom({.held = 4, .delivering = 4}), 0);
  EXPECT_LE(slots.strictRoom({.held = 5, .queued = 1, .strictQueued = 1, .delivering = 4}), 0);
}

TEST(DeliverySlotsTest, QueuedDeduplicatingEffectsTakeOnlyTheSlotsNotKeptForTheOthers) {
  const DeliverySlots slots{.concurrency = 4, .batchSize = 10, .reserved = 1};
  // A backlog of webhooks claimed ahead: they will take three slots, never
  // the fourth, so one SMTP email may still be claimed.
  const InHand backlog{.held = 14, .queued = 14};
  EXPECT_EQ(slots.strictRoom(backlog), 1);
  // Three of them delivering: the kept slot is still free.
  const InHand delivering{.held = 14, .queued = 11, .delivering = 3, .deliveringAhead = 3};
  EXPECT_EQ(slots.strictRoom(delivering), 1);
  EXPECT_FALSE(slots.mayStart(delivering, true));  // a fourth webhook waits
  EXPECT_TRUE(slots.mayStart(delivering, false));  // an email takes the kept slot
}

TEST(DeliverySlotsTest, WithoutAReservationDeduplicatingEffectsMayFillEverySlot) {
  const DeliverySlots slots{.concurrency = 4, .batchSize = 10, .reserved = 0};
  EXPECT_TRUE(slots.mayStart({.delivering = 3, .deliveringAhead = 3}, true));
  EXPECT_FALSE(slots.mayStart({.delivering = 4, .deliveringAhead = 4}, true));
}

TEST(DeliverySlotsTest, TheHandIsBoundedByOutcomesNotYetWritten) {
  const DeliverySlots slots{.concurrency = 4, .batchSize = 10, .reserved = 1};
  // Nothing queued or delivering, but 24 outcomes waiting for the completer:
  // the hand is full, so neither kind is claimed.
  const InHand slowCompleter{.held = 24};
  EXPECT_EQ(slots.inHandRoom(slowCompleter), 0);
  EXPECT_EQ(slots.aheadRoom(slowCompleter), 0);
  EXPECT_EQ(slots.strictRoom(slowCompleter), 0);
  // With room in hand, the claim ahead stops a batch beyond the slots.
  EXPECT_EQ(slots.aheadRoom({.held = 6, .queued = 6}), 8);
}

}  // namespace
}  // namespace effectd::queue
