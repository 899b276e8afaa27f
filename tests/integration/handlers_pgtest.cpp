// The billing handlers against a real PostgreSQL, through the same unit the
// intake writer runs (store + handle in one transaction), in both API shapes.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "handlers/event_processor.hpp"
#include "intake/event_retrier.hpp"
#include "intake/intake_writer.hpp"
#include "intake/stored_events.hpp"
#include "tests/support/billing_db.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::handlers {
namespace {

using namespace effectd::testing;
using intake::EventRetrier;
using intake::IncomingEvent;
using intake::IntakeWriter;
using intake::selectEvents;
using intake::StoreOutcome;
constexpr std::int64_t T = 1760000000;

class HandlersPgTest : public ::testing::TestWithParam<ApiShape> {
 protected:
  HandlersPgTest() { seedOrganization(db_.conn(), "org_1", "owner@org1.example"); }

  StoreOutcome deliver(const std::string& body) {
    auto parsed = parseEnvelope(body);
    EXPECT_TRUE(parsed.ok()) << parsed.error;
    std::vector<IncomingEvent> events{{parsed.event, body}};
    return IntakeWriter::storeBatch(db_.conn(), events, policy_).front();
  }

  std::string eventStatus(const std::string& id) {
    return db_.scalar(R"(SELECT "status" FROM "StripeWebhookEvent" WHERE "id" = ')" + id + "'");
  }

  std::map<std::string, std::string> row() { return subscriptionRow(db_.conn(), "org_1"); }

  std::string sub(const std::string& id, const std::string& type, std::int64_t created,
                  SubscriptionSpec spec, const std::string& previous = "") {
    return subscriptionEvent(GetParam(), id, type, created, spec, previous);
  }

  SubscriptionSpec spec(const std::string& status, std::string id = "sub_1") {
    SubscriptionSpec s;
    s.id = std::move(id);
    s.status = status;
    s.created = T;
    return s;
  }

  void linkCustomer() {
    ASSERT_EQ(deliver(checkoutCompletedEvent(GetParam(), "evt_checkout", T,
                                             {.clientReferenceId = "org_1"})),
              StoreOutcome::Stored);
  }

  // Another session of this database is blocked on a row lock. On a
  // connection of its own: the test's is often the one waiting.
  bool aSessionWaitsOnALock() {
    pqxx::connection observer(db_.url());
    return eventually(
        [&] {
          return pqxx::nontransaction(observer)
                     .exec1(R"(SELECT count(*) FROM pg_stat_activity
                               WHERE "datname" = current_database()
                                 AND "wait_event_type" = 'Lock')")[0]
                     .as<int>() > 0;
        },
        std::chrono::seconds(10));
  }

  TestDatabase db_;
  RetryPolicy policy_{.backoff = {.base = std::chrono::seconds(1)}};
};

INSTANTIATE_TEST_SUITE_P(BothApiShapes, HandlersPgTest,
                         ::testing::Values(ApiShape::Legacy, ApiShape::Current),
                         [](const auto& info) {
                           return info.param == ApiShape::Legacy ? "Legacy" : "Current";
                         });

TEST_P(HandlersPgTest, MirrorsTheSubscriptionFromEitherShape) {
  linkCustomer();
  auto s = spec("trialing");
  s.trialStart = T;
  s.trialEnd = T + 14 * 86400;
  s.quantity = 3;
  deliver(sub("evt_a", "customer.subscription.created", T + 1, s));
  EXPECT_EQ(eventStatus("evt_a"), "processed");
  const auto r = row();
  EXPECT_EQ(r.at("stripeCustomerId"), "cus_1");
  EXPECT_EQ(r.at("stripeSubscriptionId"), "sub_1");
  EXPECT_EQ(r.at("stripePriceId"), "price_pro");
  EXPECT_EQ(r.at("stripeProductId"), "prod_pro");
  EXPECT_EQ(r.at("status"), "trialing");
  EXPECT_EQ(r.at("quantity"), "3");
  EXPECT_EQ(r.at("currentPeriodStart"), "2023-11-14 22:13:20");
  EXPECT_EQ(r.at("currentPeriodEnd"), "2023-12-14 22:13:20");
  EXPECT_EQ(r.at("trialEnd"), "2025-10-23 08:53:20");
  EXPECT_EQ(r.at("cancelAtPeriodEnd"), "f");
  EXPECT_EQ(r.at("canceledAt"), "");
  EXPECT_EQ(r.at("stripeEventId"), "evt_a");
  EXPECT_EQ(r.at("stripeEventAt"), "2025-10-09 08:53:21");
}

TEST_P(HandlersPgTest, TheLifecycleInOrderEnqueuesEachEffectOnce) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("incomplete")));
  deliver(sub("evt_2", "customer.subscription.updated", T + 2, spec("active"),
              R"({"status":"incomplete"})"));
  deliver(invoiceEvent(GetParam(), "evt_3", "invoice.paid", T + 3, {}));
  deliver(invoiceEvent(GetParam(), "evt_3b", "invoice.payment_succeeded", T + 3, {}));
  deliver(sub("evt_4", "customer.subscription.updated", T + 4, spec("past_due"),
              R"({"status":"active"})"));
  deliver(invoiceEvent(GetParam(), "evt_5", "invoice.payment_failed", T + 5,
                       {.id = "in_2", .attemptCount = 1, .paid = false}));
  deliver(sub("evt_6", "customer.subscription.updated", T + 6, spec("active"),
              R"({"status":"past_due"})"));
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 7;
  canceled.endedAt = T + 7;
  deliver(sub("evt_7", "customer.subscription.deleted", T + 7, canceled));

  EXPECT_EQ(row().at("status"), "canceled");
  EXPECT_EQ(row().at("stripeEventId"), "evt_7");
  EXPECT_EQ(effectKeys(db_.conn()), lifecycleEffectKeys());
  // An email names a template, its data, and the owner as recipient.
  const auto payload = nlohmann::json::parse(db_.scalar(
      R"(SELECT "payload" FROM "OutboundEffect" WHERE "key" = 'email:subscription_started:sub_1')"));
  EXPECT_EQ(payload["to"], nlohmann::json::array({"owner@org1.example"}));
  EXPECT_EQ(payload["template"], "subscription_started");
  EXPECT_EQ(payload["data"]["organizationName"], "org_1 Inc.");
  EXPECT_EQ(db_.scalar(R"(SELECT "sourceEventId" || ' ' || "organizationId" || ' ' || "status"
                          FROM "OutboundEffect" WHERE "key" = 'analytics:invoice_paid:in_1')"),
            "evt_3 org_1 pending");
  const auto analytics = nlohmann::json::parse(db_.scalar(
      R"(SELECT "payload" FROM "OutboundEffect" WHERE "key" = 'analytics:invoice_paid:in_1')"));
  EXPECT_EQ(analytics["event"], "invoice_paid");
  EXPECT_EQ(analytics["distinctId"], "org_1");
  EXPECT_EQ(analytics["properties"]["amount"], 2900);
  EXPECT_EQ(analytics["timestamp"], "2025-10-09T08:53:23Z");
}

TEST_P(HandlersPgTest, OnASameSecondTieTheLaterLifecycleStateWins) {
  linkCustomer();
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 5;
  deliver(sub("evt_del", "customer.subscription.deleted", T + 5, canceled));
  deliver(sub("evt_upd", "customer.subscription.updated", T + 5, spec("active")));
  EXPECT_EQ(row().at("status"), "canceled");

  // incomplete and active in the same second, active last in and first in.
  seedOrganization(db_.conn(), "org_2", "owner@org2.example");
  auto incomplete = spec("incomplete", "sub_2");
  incomplete.customer = "cus_2";
  incomplete.organizationId = "org_2";
  auto active = incomplete;
  active.status = "active";
  deliver(sub("evt_b", "customer.subscription.updated", T + 9, active));
  deliver(sub("evt_a", "customer.subscription.created", T + 9, incomplete));
  EXPECT_EQ(subscriptionRow(db_.conn(), "org_2").at("status"), "active");
}

TEST_P(HandlersPgTest, ALateUpdateAfterDeletionDoesNotReviveTheSubscription) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("active")));
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 3;
  deliver(sub("evt_3", "customer.subscription.deleted", T + 3, canceled));
  deliver(sub("evt_2", "customer.subscription.updated", T + 2, spec("past_due")));
  deliver(sub("evt_4", "customer.subscription.updated", T + 4, spec("active")));
  EXPECT_EQ(row().at("status"), "canceled");
  EXPECT_EQ(row().at("stripeEventId"), "evt_3");
}

TEST_P(HandlersPgTest, ASecondSubscriptionReplacesACanceledOne) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("active")));
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 2;
  deliver(sub("evt_2", "customer.subscription.deleted", T + 2, canceled));
  auto second = spec("active", "sub_2");
  second.price = "price_team";
  deliver(sub("evt_3", "customer.subscription.created", T + 3, second));
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_2");
  EXPECT_EQ(row().at("status"), "active");
  EXPECT_EQ(row().at("stripePriceId"), "price_team");
  // The old subscription's late events change nothing.
  deliver(sub("evt_0", "customer.subscription.updated", T + 1, spec("active")));
  auto lateCancel = canceled;
  lateCancel.endedAt = T + 9;
  deliver(sub("evt_9", "customer.subscription.updated", T + 9, lateCancel));
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_2");
  EXPECT_EQ(row().at("status"), "active");
  EXPECT_TRUE(effectKeys(db_.conn()).count("email:subscription_started:sub_2"));
}

// Each handler of a batch runs in its own savepoint: the failing event is
// recorded failed, the others commit with the batch.
TEST_P(HandlersPgTest, OneFailingHandlerInABatchLeavesTheOthersApplied) {
  seedOrganization(db_.conn(), "org_2", "owner@org2.example");
  auto good = spec("active");
  good.organizationId = "org_1";
  auto orphan = spec("active", "sub_orphan");  // no organization: its handler fails
  orphan.customer = "cus_orphan";
  auto other = spec("trialing", "sub_2");
  other.customer = "cus_2";
  other.organizationId = "org_2";
  std::vector<IncomingEvent> events;
  for (const auto& body : {sub("evt_good", "customer.subscription.created", T + 1, good),
                           sub("evt_orphan", "customer.subscription.created", T + 1, orphan),
                           sub("evt_other", "customer.subscription.created", T + 1, other)}) {
    events.push_back({parseEnvelope(body).event, body});
  }
  const auto outcomes = IntakeWriter::storeBatch(db_.conn(), events, policy_);
  EXPECT_EQ(outcomes, std::vector<StoreOutcome>(3, StoreOutcome::Stored));
  EXPECT_EQ(eventStatus("evt_good"), "processed");
  EXPECT_EQ(eventStatus("evt_orphan"), "failed");
  EXPECT_EQ(eventStatus("evt_other"), "processed");
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_1");
  EXPECT_EQ(subscriptionRow(db_.conn(), "org_2").at("status"), "trialing");
  EXPECT_EQ(effectKeys(db_.conn()),
            (std::set<std::string>{
                "email:subscription_started:sub_1", "analytics:subscription_started:sub_1",
                "email:subscription_started:sub_2", "analytics:subscription_started:sub_2"}));
  // Each stored once, attempted once.
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) || ' ' || sum("attempts") FROM "StripeWebhookEvent")"),
            "3 3");
}

TEST_P(HandlersPgTest, ABatchTheDatabaseRefusesIsAppliedOneEventAtATime) {
  linkCustomer();  // org_1 holds cus_1
  seedOrganization(db_.conn(), "org_2", "owner@org2.example");
  auto good = spec("active");
  good.organizationId = "org_1";
  // org_2 has no row yet; the row this event creates would take cus_1, which
  // the unique index refuses: the whole batch's write fails.
  auto clash = spec("active", "sub_clash");
  clash.organizationId = "org_2";
  std::vector<IncomingEvent> events;
  for (const auto& body : {sub("evt_good", "customer.subscription.created", T + 1, good),
                           sub("evt_clash", "customer.subscription.created", T + 1, clash)}) {
    events.push_back({parseEnvelope(body).event, body});
  }
  EXPECT_EQ(IntakeWriter::storeBatch(db_.conn(), events, policy_),
            std::vector<StoreOutcome>(2, StoreOutcome::Stored));
  EXPECT_EQ(eventStatus("evt_good"), "processed");
  EXPECT_EQ(eventStatus("evt_clash"), "failed");
  EXPECT_NE(db_.scalar(R"(SELECT "lastError" FROM "StripeWebhookEvent" WHERE "id" = 'evt_clash')")
                .find("Subscription_stripeCustomerId_key"),
            std::string::npos);
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_1");
  EXPECT_TRUE(subscriptionRow(db_.conn(), "org_2").empty());
  EXPECT_EQ(effectKeys(db_.conn()),
            (std::set<std::string>{"email:subscription_started:sub_1",
                                   "analytics:subscription_started:sub_1"}));
}

TEST_P(HandlersPgTest, ARowAnotherWriterCreatesMeanwhileIsDecidedAgainst) {
  seedOrganization(db_.conn(), "org_2", "owner@org2.example");
  // Another writer creates org_2's row, already holding a later, final
  // state, and has not committed when the batch reads.
  pqxx::connection other(db_.url());
  pqxx::work theirs(other);
  theirs.exec(R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId",
      "stripeSubscriptionId", "status", "stripeEventAt", "stripeEventId", "updatedAt")
      VALUES ('s2', 'org_2', 'cus_2', 'sub_2', 'canceled', to_timestamp()" +
              std::to_string(T + 10) + R"() AT TIME ZONE 'UTC', 'evt_later', now()))");
  auto stale = spec("active", "sub_2");
  stale.customer = "cus_2";
  stale.organizationId = "org_2";
  const auto body = sub("evt_stale", "customer.subscription.updated", T + 1, stale);
  std::vector<IncomingEvent> events{{parseEnvelope(body).event, body}};
  std::vector<StoreOutcome> outcomes;
  std::thread batch([&] { outcomes = IntakeWriter::storeBatch(db_.conn(), events, policy_); });
  // The batch waits on the other writer's row before that one commits.
  EXPECT_TRUE(aSessionWaitsOnALock());
  theirs.commit();
  batch.join();
  EXPECT_EQ(outcomes, std::vector<StoreOutcome>{StoreOutcome::Stored});
  EXPECT_EQ(eventStatus("evt_stale"), "processed");
  const auto row2 = subscriptionRow(db_.conn(), "org_2");
  EXPECT_EQ(row2.at("status"), "canceled");
  EXPECT_EQ(row2.at("stripeEventId"), "evt_later");
}

TEST_P(HandlersPgTest, AnEventForAnUnknownOrganizationSucceedsOnceTheCheckoutArrives) {
  // Still answered as stored (Stripe gets 200), but failed and waiting.
  EXPECT_EQ(deliver(sub("evt_early", "customer.subscription.created", T + 1, spec("active"))),
            StoreOutcome::Stored);
  EXPECT_EQ(eventStatus("evt_early"), "failed");
  EXPECT_NE(db_.scalar(R"(SELECT "lastError" FROM "StripeWebhookEvent" WHERE "id" = 'evt_early')")
                .find("cus_1"),
            std::string::npos);
  EXPECT_TRUE(row().empty());
  EXPECT_TRUE(effectKeys(db_.conn()).empty());
  // Nothing is due yet: the backoff holds it.
  EXPECT_EQ(EventRetrier::runOnce(db_.conn(), policy_, 10).total(), 0);

  linkCustomer();  // checkout.session.completed makes the waiting event due at once
  const auto counts = EventRetrier::runOnce(db_.conn(), policy_, 10);
  EXPECT_EQ(counts.processed, 1);
  EXPECT_EQ(eventStatus("evt_early"), "processed");
  EXPECT_EQ(db_.scalar(R"(SELECT "attempts" FROM "StripeWebhookEvent" WHERE "id" = 'evt_early')"),
            "2");
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_1");
  EXPECT_TRUE(effectKeys(db_.conn()).count("email:subscription_started:sub_1"));
}

// The retrier locks a due event, then its Subscription rows; a linking batch
// locks rows, then wakes the events it unblocks. The wake-up runs after the
// batch's commit, so the batch never holds a row while it waits for an event.
TEST_P(HandlersPgTest, ALinkingBatchHoldsNoRowWhileItWakesAnEventTheRetrierHolds) {
  policy_.backoff.base = std::chrono::hours(1);  // due again only when woken
  ASSERT_EQ(deliver(sub("evt_early", "customer.subscription.created", T + 1, spec("active"))),
            StoreOutcome::Stored);
  pqxx::nontransaction(db_.conn())
      .exec(R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "status",
                                           "livemode", "updatedAt")
               VALUES ('row_1', 'org_1', 'cus_0', 'canceled', false, now()))");
  pqxx::connection retrier(db_.url());
  pqxx::work held(retrier);
  held.exec(R"(SELECT 1 FROM "StripeWebhookEvent" WHERE "id" = 'evt_early' FOR UPDATE)");

  auto linking = std::async(std::launch::async, [this] {
    pqxx::connection conn(db_.url());
    const auto body =
        checkoutCompletedEvent(GetParam(), "evt_checkout", T, {.clientReferenceId = "org_1"});
    std::vector<IncomingEvent> events{{parseEnvelope(body).event, body}};
    return IntakeWriter::storeBatch(conn, events, policy_).front();
  });
  // The batch has committed and now waits for the event the retrier holds.
  ASSERT_TRUE(aSessionWaitsOnALock());
  // The retrier's next step: the organization's row, free by now.
  EXPECT_NO_THROW(held.exec(
      R"(SELECT 1 FROM "Subscription" WHERE "organizationId" = 'org_1' FOR UPDATE NOWAIT)"));
  held.abort();
  EXPECT_EQ(linking.get(), StoreOutcome::Stored);
  EXPECT_EQ(db_.scalar(R"(SELECT "nextAttemptAt" <= now() AT TIME ZONE 'UTC'
                          FROM "StripeWebhookEvent" WHERE "id" = 'evt_early')"),
            "t");
}

TEST_P(HandlersPgTest, EventsStoredButNeverHandledAreHandledByTheRetryLoop) {
  // As a version of effectd without handlers left them.
  linkCustomer();
  const auto body = sub("evt_old", "customer.subscription.created", T + 1, spec("active"));
  pqxx::work tx(db_.conn());
  tx.exec_params(R"(INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "stripeCreatedAt",
                        "payload", "status") VALUES ('evt_old', 'customer.subscription.created',
                        false, now(), $1::jsonb, 'received'))",
                 body);
  tx.commit();
  EXPECT_EQ(EventRetrier::runOnce(db_.conn(), policy_, 10).processed, 1);
  EXPECT_EQ(eventStatus("evt_old"), "processed");
  EXPECT_EQ(row().at("stripeEventId"), "evt_old");
}

TEST_P(HandlersPgTest, AFailingEventStopsBeingRetriedAfterMaxAttempts) {
  policy_.maxAttempts = 2;
  deliver(sub("evt_x", "customer.subscription.created", T, spec("active")));
  pqxx::nontransaction(db_.conn())
      .exec(R"(UPDATE "StripeWebhookEvent" SET "nextAttemptAt" = now() - interval '1 hour')");
  EXPECT_EQ(EventRetrier::runOnce(db_.conn(), policy_, 10).failed, 1);
  EXPECT_EQ(db_.scalar(R"(SELECT "attempts" || ' ' || "status" || ' ' || ("nextAttemptAt" IS NULL)
                          FROM "StripeWebhookEvent")"),
            "2 failed true");
  EXPECT_EQ(EventRetrier::runOnce(db_.conn(), policy_, 10).total(), 0);
}

TEST_P(HandlersPgTest, ReplayingEveryEventChangesNothing) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("incomplete")));
  deliver(sub("evt_2", "customer.subscription.updated", T + 2, spec("active"),
              R"({"items":{"data":[{"price":{"id":"price_old"}}]}})"));
  deliver(invoiceEvent(GetParam(), "evt_3", "invoice.paid", T + 3, {}));
  deliver(invoiceEvent(GetParam(), "evt_4", "invoice.payment_failed", T + 4,
                       {.id = "in_2", .paid = false}));
  auto before = [&] {
    return db_.scalar(R"(SELECT string_agg(s::text, '|') FROM "Subscription" s)") + "#" +
           db_.scalar(R"(SELECT string_agg(e::text, '|' ORDER BY "key") FROM "OutboundEffect" e)");
  };
  const auto snapshot = before();
  EXPECT_TRUE(effectKeys(db_.conn()).count("analytics:plan_changed:sub_1:evt_2"));

  pqxx::read_transaction read(db_.conn());
  const auto events = selectEvents(read, {.limit = 100, .withPayload = true});
  read.commit();
  ASSERT_EQ(events.size(), 5u);
  for (const auto& e : events) {
    EXPECT_NE(replayEvent(db_.conn(), {&e.envelope, e.payload}, policy_).status,
              EventStatus::Failed);
  }
  EXPECT_EQ(before(), snapshot);
}

TEST_P(HandlersPgTest, SiblingInvoiceEventsAndDuplicatesEnqueueOnce) {
  linkCustomer();
  deliver(invoiceEvent(GetParam(), "evt_paid", "invoice.paid", T, {}));
  deliver(invoiceEvent(GetParam(), "evt_succeeded", "invoice.payment_succeeded", T, {}));
  EXPECT_EQ(deliver(invoiceEvent(GetParam(), "evt_paid", "invoice.paid", T, {})),
            StoreOutcome::Duplicate);
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect")"), "1");
  // A second failed attempt of one invoice is a new email; the same attempt is not.
  deliver(invoiceEvent(GetParam(), "evt_f1", "invoice.payment_failed", T,
                       {.id = "in_9", .attemptCount = 1, .paid = false}));
  deliver(invoiceEvent(GetParam(), "evt_f1b", "invoice.payment_failed", T,
                       {.id = "in_9", .attemptCount = 1, .paid = false}));
  deliver(invoiceEvent(GetParam(), "evt_f2", "invoice.payment_failed", T + 86400,
                       {.id = "in_9", .attemptCount = 2, .paid = false}));
  EXPECT_EQ(
      db_.scalar(
          R"(SELECT count(*) FROM "OutboundEffect" WHERE "key" LIKE 'email:payment_failed:in_9:%')"),
      "2");
}

TEST_P(HandlersPgTest, RecipientsAreOwnersThenAdminsThenTheCustomer) {
  seedOrganization(db_.conn(), "org_1", "second-owner@org1.example", "owner");
  seedOrganization(db_.conn(), "org_1", "admin@org1.example", "member,admin");
  seedOrganization(db_.conn(), "org_a", "admin@orga.example", "admin");
  seedOrganization(db_.conn(), "org_c", "member@orgc.example", "member");
  linkCustomer();
  for (const auto& [org, customer] :
       std::vector<std::pair<std::string, std::string>>{{"org_a", "cus_a"}, {"org_c", "cus_c"}}) {
    deliver(checkoutCompletedEvent(
        GetParam(), "evt_co_" + org, T,
        {.id = "cs_" + org, .customer = customer, .clientReferenceId = org}));
    deliver(invoiceEvent(GetParam(), "evt_pf_" + org, "invoice.payment_failed", T,
                         {.id = "in_" + org, .customer = customer, .paid = false}));
  }
  deliver(invoiceEvent(GetParam(), "evt_pf_1", "invoice.payment_failed", T,
                       {.id = "in_1", .paid = false}));
  auto to = [&](const std::string& invoice) {
    return nlohmann::json::parse(db_.scalar(
        R"(SELECT "payload" FROM "OutboundEffect" WHERE "key" = 'email:payment_failed:)" + invoice +
        ":1'"))["to"];
  };
  EXPECT_EQ(to("in_1"), nlohmann::json::array({"owner@org1.example", "second-owner@org1.example"}));
  EXPECT_EQ(to("in_org_a"), nlohmann::json::array({"admin@orga.example"}));
  EXPECT_EQ(to("in_org_c"), nlohmann::json::array({"billing@customer.example"}));
}

TEST_P(HandlersPgTest, TrialWillEndPausedAndResumed) {
  linkCustomer();
  auto trial = spec("trialing");
  trial.trialEnd = T + 3 * 86400;
  deliver(sub("evt_t", "customer.subscription.trial_will_end", T, trial));
  EXPECT_TRUE(
      effectKeys(db_.conn()).count("email:trial_will_end:sub_1:" + std::to_string(T + 3 * 86400)));
  deliver(sub("evt_p", "customer.subscription.paused", T + 1, spec("paused")));
  EXPECT_EQ(row().at("status"), "paused");
  deliver(sub("evt_r", "customer.subscription.resumed", T + 2, spec("active")));
  EXPECT_EQ(row().at("status"), "active");
}

TEST_P(HandlersPgTest, UnhandledTypesAreIgnoredAndCustomerDeletedIsProcessed) {
  deliver(subscriptionEvent(GetParam(), "evt_other", "customer.updated", T, spec("active")));
  EXPECT_EQ(eventStatus("evt_other"), "ignored");
  linkCustomer();
  deliver(customerDeletedEvent(GetParam(), "evt_cd", T + 1, "cus_1"));
  EXPECT_EQ(eventStatus("evt_cd"), "processed");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_1");
}

TEST_P(HandlersPgTest, ACheckoutWithoutAnOrganizationFailsVisibly) {
  deliver(checkoutCompletedEvent(GetParam(), "evt_co", T, {}));
  EXPECT_EQ(eventStatus("evt_co"), "failed");
  EXPECT_NE(
      db_.scalar(R"(SELECT "lastError" FROM "StripeWebhookEvent")").find("client_reference_id"),
      std::string::npos);
}

// The order the issue found: the old subscription's cancellation (T+1)
// before the new subscription's creation (T). The row shows the new one.
TEST_P(HandlersPgTest, APlanSwitchByANewSubscriptionShowsTheNewOneInEitherOrder) {
  linkCustomer();
  auto one = spec("active");
  one.created = T - 1000;
  deliver(sub("evt_1", "customer.subscription.created", T - 1000, one));
  auto canceled = one;
  canceled.status = "canceled";
  canceled.canceledAt = T + 1;
  canceled.endedAt = T + 1;
  deliver(sub("evt_1_deleted", "customer.subscription.deleted", T + 1, canceled));
  EXPECT_EQ(row().at("status"), "canceled");
  auto two = spec("active", "sub_2");
  two.price = "price_team";
  deliver(sub("evt_2", "customer.subscription.created", T, two));
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_2");
  EXPECT_EQ(row().at("status"), "active");
  EXPECT_EQ(row().at("stripePriceId"), "price_team");
  EXPECT_EQ(row().at("stripeEventId"), "evt_2");
  EXPECT_EQ(row().at("stripeSubscriptionCreatedAt"), "2025-10-09 08:53:20");
  // Both subscriptions are kept, the shown one first; a late live event of
  // the ended one changes nothing.
  EXPECT_EQ(db_.scalar(R"(SELECT string_agg(e->>'subscription' || ':' || (e->>'status'), ',')
                          FROM "Subscription", jsonb_array_elements("stripeSubscriptions") e)"),
            "sub_2:active,sub_1:canceled");
  deliver(sub("evt_1_late", "customer.subscription.updated", T + 5, one));
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_2");
  EXPECT_EQ(row().at("stripeEventId"), "evt_2");
}

// A buyer's Payment Link with ?client_reference_id=org_1 (the victim, with a
// live subscription of cus_1): the checkout fails with its reason, the
// victim's row is untouched, and the operator's replay --relink applies it.
TEST_P(HandlersPgTest, ACheckoutNeverTakesAnOrganizationFromALiveSubscription) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("active")));
  const auto before = row();
  deliver(checkoutCompletedEvent(
      GetParam(), "evt_takeover", T + 100,
      {.id = "cs_attacker", .customer = "cus_attacker", .clientReferenceId = "org_1"}));
  EXPECT_EQ(eventStatus("evt_takeover"), "failed");
  const auto error =
      db_.scalar(R"(SELECT "lastError" FROM "StripeWebhookEvent" WHERE "id" = 'evt_takeover')");
  EXPECT_NE(error.find("refused to move organization org_1 from customer cus_1"), std::string::npos)
      << error;
  EXPECT_NE(error.find("--relink"), std::string::npos) << error;
  // Not retried by itself: if the victim's subscription ended later, the
  // takeover would apply on the next attempt.
  EXPECT_EQ(db_.scalar(R"(SELECT "nextAttemptAt" IS NULL FROM "StripeWebhookEvent"
                          WHERE "id" = 'evt_takeover')"),
            "t");
  EXPECT_EQ(row(), before);
  // The attacker's subscription finds no organization.
  auto theirs = spec("active", "sub_attacker");
  theirs.customer = "cus_attacker";
  deliver(sub("evt_theirs", "customer.subscription.created", T + 101, theirs));
  EXPECT_EQ(eventStatus("evt_theirs"), "failed");
  EXPECT_EQ(row(), before);

  pqxx::read_transaction read(db_.conn());
  const auto stored = selectEvents(read, {.id = "evt_takeover", .limit = 1, .withPayload = true});
  read.commit();
  ASSERT_EQ(stored.size(), 1u);
  const auto& e = stored.front();
  EXPECT_EQ(replayEvent(db_.conn(), {&e.envelope, e.payload}, policy_).status, EventStatus::Failed);
  EXPECT_EQ(replayEvent(db_.conn(), {&e.envelope, e.payload, true}, policy_).status,
            EventStatus::Processed);
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_attacker");
  // The previous customer's subscription is forgotten: its later events
  // neither show it again nor move the link back.
  EXPECT_EQ(row().at("stripeSubscriptionId"), "");
  EXPECT_EQ(row().at("stripeSubscriptions"), "[]");
  deliver(sub("evt_1_renewed", "customer.subscription.updated", T + 200, spec("active")));
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_attacker");
  EXPECT_EQ(row().at("stripeSubscriptionId"), "");
}

// metadata.organizationId is the app server's word: its checkout moves the
// organization to a new customer even while the old subscription is live
// (cancel_at_period_end), and even from a link a buyer's checkout made.
TEST_P(HandlersPgTest, TheAppsOwnCheckoutMovesALinkFromALiveSubscription) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("active")));
  deliver(checkoutCompletedEvent(
      GetParam(), "evt_app_co", T + 100,
      {.id = "cs_app", .customer = "cus_new", .metadataOrganizationId = "org_1"}));
  EXPECT_EQ(eventStatus("evt_app_co"), "processed");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_new");
}

// Once the subscription has ended, a checkout of another customer may link
// the organization (a returning customer who paid with a new account).
TEST_P(HandlersPgTest, ACheckoutMovesALinkWhoseSubscriptionEnded) {
  linkCustomer();
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 2;
  deliver(sub("evt_1", "customer.subscription.deleted", T + 2, canceled));
  deliver(
      checkoutCompletedEvent(GetParam(), "evt_new", T + 100,
                             {.id = "cs_2", .customer = "cus_2", .clientReferenceId = "org_1"}));
  EXPECT_EQ(eventStatus("evt_new"), "processed");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_2");
  // The old checkout, resent from the dashboard, does not move it back.
  deliver(
      checkoutCompletedEvent(GetParam(), "evt_old_resent", T,
                             {.id = "cs_1", .customer = "cus_1", .clientReferenceId = "org_1"}));
  EXPECT_EQ(eventStatus("evt_old_resent"), "processed");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_2");
  EXPECT_EQ(row().at("stripeLinkedAt"), "2025-10-09 08:55:00");
}

// metadata.organizationId is the app server's word; client_reference_id a
// buyer's. When both are set and differ, nothing is linked.
TEST_P(HandlersPgTest, ACheckoutWhoseTwoOrganizationIdsDisagreeFails) {
  seedOrganization(db_.conn(), "org_2", "owner@org2.example");
  deliver(checkoutCompletedEvent(
      GetParam(), "evt_co", T,
      {.customer = "cus_9", .clientReferenceId = "org_1", .metadataOrganizationId = "org_2"}));
  EXPECT_EQ(eventStatus("evt_co"), "failed");
  EXPECT_TRUE(row().empty());
  EXPECT_TRUE(subscriptionRow(db_.conn(), "org_2").empty());
  deliver(checkoutCompletedEvent(
      GetParam(), "evt_co_meta", T,
      {.id = "cs_2", .customer = "cus_9", .metadataOrganizationId = "org_2"}));
  EXPECT_EQ(subscriptionRow(db_.conn(), "org_2").at("stripeCustomerId"), "cus_9");
}

// A customer's metadata holds \u0000, which jsonb refuses: the cancellation
// is stored and applied all the same (Stripe gets 200, not three days of
// 503s), and the exact signed bytes are kept.
TEST_P(HandlersPgTest, AnEventJsonbRefusesAsItIsIsStoredAndApplied) {
  linkCustomer();
  deliver(sub("evt_1", "customer.subscription.created", T + 1, spec("active")));
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 2;
  auto doc =
      nlohmann::json::parse(sub("evt_poison", "customer.subscription.deleted", T + 2, canceled));
  doc["data"]["object"]["metadata"]["note"] = std::string("before\0after", 12);
  const auto body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  ASSERT_NE(body.find("\\u0000"), std::string::npos);
  EXPECT_EQ(deliver(body), StoreOutcome::Stored);
  EXPECT_EQ(eventStatus("evt_poison"), "processed");
  EXPECT_EQ(row().at("status"), "canceled");
  EXPECT_EQ(
      db_.scalar(R"(SELECT "signedPayload" FROM "StripeWebhookEvent" WHERE "id" = 'evt_poison')"),
      body);
  EXPECT_EQ(db_.scalar(R"(SELECT "payload" #>> '{data,object,metadata,note}'
                          FROM "StripeWebhookEvent" WHERE "id" = 'evt_poison')"),
            "before\xef\xbf\xbd"
            "after");
  EXPECT_EQ(
      db_.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent" WHERE "signedPayload" IS NULL)"),
      "2");
}

// A test-mode event never changes, nor mails about, a live organization:
// a developer's `stripe trigger` against production's database.
TEST_P(HandlersPgTest, ATestModeEventNeverChangesALiveRowButALiveOneTakesATestRow) {
  const auto live = [](std::string body) {
    auto doc = nlohmann::json::parse(body);
    doc["livemode"] = true;
    doc["data"]["object"]["livemode"] = true;
    return doc.dump();
  };
  // In test mode first: the developer tried it out.
  linkCustomer();
  deliver(sub("evt_test_sub", "customer.subscription.created", T + 1, spec("active")));
  EXPECT_EQ(row().at("livemode"), "f");
  // Then live: a live checkout and subscription take the row over.
  deliver(live(checkoutCompletedEvent(
      GetParam(), "evt_live_co", T + 10,
      {.id = "cs_live", .customer = "cus_live", .clientReferenceId = "org_1"})));
  EXPECT_EQ(eventStatus("evt_live_co"), "processed");
  auto paid = spec("active", "sub_live");
  paid.customer = "cus_live";
  paid.created = T + 10;
  deliver(live(sub("evt_live_sub", "customer.subscription.created", T + 11, paid)));
  EXPECT_EQ(eventStatus("evt_live_sub"), "processed");
  EXPECT_EQ(row().at("livemode"), "t");
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_live");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_live");
  const auto keysBefore = effectKeys(db_.conn());

  // Now test-mode events for that organization: refused, with their reason.
  auto testCancel = spec("canceled", "sub_test_2");
  testCancel.organizationId = "org_1";
  testCancel.canceledAt = T + 20;
  deliver(sub("evt_test_cancel", "customer.subscription.deleted", T + 20, testCancel));
  deliver(
      checkoutCompletedEvent(GetParam(), "evt_test_co", T + 21,
                             {.id = "cs_t", .customer = "cus_t", .clientReferenceId = "org_1"}));
  InvoiceSpec failedInvoice{.id = "in_test", .customer = "cus_live", .paid = false};
  deliver(invoiceEvent(GetParam(), "evt_test_invoice", "invoice.payment_failed", T + 22,
                       failedInvoice));
  for (const auto* id : {"evt_test_cancel", "evt_test_co", "evt_test_invoice"}) {
    EXPECT_EQ(eventStatus(id), "failed") << id;
    EXPECT_NE(
        db_.scalar(std::string(R"(SELECT "lastError" FROM "StripeWebhookEvent" WHERE "id" = ')") +
                   id + "'")
            .find("test-mode event does not change organization org_1"),
        std::string::npos)
        << id;
  }
  EXPECT_EQ(row().at("stripeSubscriptionId"), "sub_live");
  EXPECT_EQ(row().at("status"), "active");
  EXPECT_EQ(row().at("stripeCustomerId"), "cus_live");
  EXPECT_EQ(effectKeys(db_.conn()), keysBefore);
}

}  // namespace
}  // namespace effectd::handlers
