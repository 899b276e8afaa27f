#include "handlers/event_processor.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <set>
#include <variant>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "handlers/billing_rows.hpp"
#include "handlers/handler.hpp"
#include "queue/enqueue.hpp"
#include "sql/error_text.hpp"
#include "sql/prepared_statement.hpp"
#include "sql/savepoint.hpp"

namespace effectd::handlers {
namespace {

struct CustomerDeleted {
  std::string customer;
};

// The object an event carries, read once; monostate for a type effectd
// does not handle.
using BillingObject = std::variant<std::monostate, SubscriptionObject, CheckoutSessionObject,
                                   InvoiceObject, CustomerDeleted>;

enum class Handled { No, Subscription, Checkout, Invoice, CustomerDeleted };

Handled handledAs(std::string_view type) {
  if (type == "customer.subscription.created" || type == "customer.subscription.updated" ||
      type == "customer.subscription.deleted" || type == "customer.subscription.paused" ||
      type == "customer.subscription.resumed" || type == "customer.subscription.trial_will_end") {
    return Handled::Subscription;
  }
  if (type == "checkout.session.completed") return Handled::Checkout;
  if (type == "invoice.paid" || type == "invoice.payment_succeeded" ||
      type == "invoice.payment_failed") {
    return Handled::Invoice;
  }
  if (type == "customer.deleted") return Handled::CustomerDeleted;
  return Handled::No;
}

struct ReadEvent {
  const EventEnvelope* envelope = nullptr;
  BillingObject object;
  nlohmann::json previousAttributes;
  std::string error;  // not readable: the event fails without running
  bool allowRelink = false;
};

ReadEvent readEvent(const EventInput& input) {
  ReadEvent out{input.envelope, {}, nullptr, {}, input.allowRelink};
  const auto handled = handledAs(input.envelope->type);
  if (handled == Handled::No) return out;
  const auto doc = nlohmann::json::parse(input.payload, nullptr, false);
  static const nlohmann::json null;
  const auto& data = doc.is_object() && doc.contains("data") ? doc["data"] : null;
  const auto& object = data.is_object() && data.contains("object") ? data["object"] : null;
  if (data.is_object() && data.contains("previous_attributes")) {
    out.previousAttributes = data["previous_attributes"];
  }
  try {
    switch (handled) {
      case Handled::Subscription:
        out.object = readSubscription(object);
        break;
      case Handled::Checkout:
        out.object = readCheckoutSession(object);
        break;
      case Handled::Invoice:
        out.object = readInvoice(object);
        break;
      case Handled::CustomerDeleted:
        out.object = CustomerDeleted{
            idOf(object.is_object() ? object.value("id", nlohmann::json()) : nlohmann::json())};
        break;
      case Handled::No:
        break;
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

// The organizations and customers whose rows an event may read or change.
void addTouched(const ReadEvent& event, std::set<std::string>& organizations,
                std::set<std::string>& customers) {
  const auto add = [](std::set<std::string>& set, const std::string& value) {
    if (!value.empty()) set.insert(value);
  };
  if (const auto* s = std::get_if<SubscriptionObject>(&event.object)) {
    add(organizations, s->metadataOrganizationId);
    add(customers, s->customer);
  } else if (const auto* c = std::get_if<CheckoutSessionObject>(&event.object)) {
    add(organizations, c->organizationId);
    add(customers, c->customer);
  } else if (const auto* i = std::get_if<InvoiceObject>(&event.object)) {
    add(organizations, i->metadataOrganizationId);
    add(customers, i->customer);
  } else if (const auto* d = std::get_if<CustomerDeleted>(&event.object)) {
    add(customers, d->customer);
  }
}

ProcessOutcome failed(std::string error) {
  return {EventStatus::Failed, std::move(error)};
}

AppliedEvents logFailures(std::span<const ReadEvent> events, AppliedEvents applied) {
  const auto& outcomes = applied.outcomes;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].status != EventStatus::Failed) continue;
    log::warn("event handler failed", {{"event_id", events[i].envelope->id},
                                       {"event_type", events[i].envelope->type},
                                       {"error", outcomes[i].error}});
  }
  return applied;
}

// Runs each event's handler against the state, in order.
std::vector<ProcessOutcome> runHandlers(BillingState& state, std::span<const ReadEvent> events,
                                        std::vector<queue::NewEffect>& effects) {
  std::vector<ProcessOutcome> outcomes;
  outcomes.reserve(events.size());
  for (const auto& e : events) {
    if (!e.error.empty()) {
      outcomes.push_back(failed(e.error));
      continue;
    }
    std::vector<queue::NewEffect> caused;
    HandlerContext ctx{state, *e.envelope, e.previousAttributes, caused, e.allowRelink};
    try {
      const auto result = std::visit(
          [&ctx](const auto& object) {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, SubscriptionObject>) {
              return handleSubscriptionEvent(ctx, object);
            } else if constexpr (std::is_same_v<T, CheckoutSessionObject>) {
              return handleCheckoutSessionCompleted(ctx, object);
            } else if constexpr (std::is_same_v<T, InvoiceObject>) {
              return handleInvoiceEvent(ctx, object);
            } else if constexpr (std::is_same_v<T, CustomerDeleted>) {
              return handleCustomerDeleted(ctx, object.customer);
            } else {
              return HandlerResult::Ignored;
            }
          },
          e.object);
      outcomes.push_back(
          {result == HandlerResult::Processed ? EventStatus::Processed : EventStatus::Ignored, {}});
      std::move(caused.begin(), caused.end(), std::back_inserter(effects));
    } catch (const NeedsOperator& ex) {
      outcomes.push_back({EventStatus::Failed, ex.what(), false});
    } catch (const std::exception& ex) {
      // Handlers check before they change: the state holds nothing of it.
      outcomes.push_back(failed(ex.what()));
    }
  }
  return outcomes;
}

// The batch in a fixed number of statements: lock what it touches, decide
// in memory, write back. A row the batch must create is inserted, then the
// batch decides again against the row as stored (another writer may have
// made it first).
AppliedEvents applyTogether(pqxx::transaction_base& tx, std::span<const ReadEvent> events) {
  std::set<std::string> organizations;
  std::set<std::string> customers;
  for (const auto& e : events) addTouched(e, organizations, customers);
  BillingState locked;
  for (auto& row : lockRows(tx, organizations, customers)) {
    organizations.insert(row.organizationId);
    locked.addRow(std::move(row));
  }
  loadOrganizations(tx, organizations, locked);

  for (int round = 0;; ++round) {
    BillingState state = locked;
    std::vector<queue::NewEffect> effects;
    auto outcomes = runHandlers(state, events, effects);
    std::set<std::string> created;
    for (const auto& [org, row] : state.rows()) {
      if (!row.stored) created.insert(org);
    }
    if (created.empty()) {
      writeRows(tx, state);
      queue::enqueueAll(tx, effects);
      return {std::move(outcomes), state.customersToWake()};
    }
    if (round == 2) throw std::runtime_error("subscription rows kept appearing under the batch");
    insertRows(tx, state);
    for (auto& row : lockRows(tx, created, {})) locked.addRow(std::move(row));
  }
}

}  // namespace

bool isHandledType(std::string_view type) {
  return handledAs(type) != Handled::No;
}

std::vector<ReadEvent> readEvents(std::span<const EventInput> inputs) {
  std::vector<ReadEvent> events;
  events.reserve(inputs.size());
  for (const auto& input : inputs) events.push_back(readEvent(input));
  return events;
}

AppliedEvents applyEventsOrThrow(pqxx::transaction_base& tx, std::span<const EventInput> inputs) {
  const auto events = readEvents(inputs);
  if (events.empty()) return {};
  return logFailures(events, applyTogether(tx, events));
}

AppliedEvents applyEvents(pqxx::transaction_base& tx, std::span<const EventInput> inputs) {
  const auto events = readEvents(inputs);
  if (events.empty()) return {};
  {
    sql::Savepoint batch(tx, "handlers");
    try {
      return logFailures(events, applyTogether(tx, events));
    } catch (const std::exception& e) {
      if (sql::transactionLost(e)) throw;  // the caller answers 503
      batch.rollback();
      if (events.size() == 1) return logFailures(events, {{failed(sql::errorText(e))}, {}});
      log::warn("the database refused a batch of events; applying them one at a time",
                {{"events", events.size()}, {"error", sql::errorText(e)}});
    }
  }
  AppliedEvents applied;
  applied.outcomes.reserve(events.size());
  for (const auto& event : events) {
    sql::Savepoint alone(tx, "handler");
    try {
      auto one = applyTogether(tx, std::span(&event, 1));
      applied.outcomes.push_back(std::move(one.outcomes.front()));
      for (auto& c : one.linkedCustomers) applied.linkedCustomers.push_back(std::move(c));
    } catch (const std::exception& e) {
      if (sql::transactionLost(e)) throw;
      alone.rollback();
      applied.outcomes.push_back(failed(sql::errorText(e)));
    }
  }
  return logFailures(events, std::move(applied));
}

void wakeLinkedCustomers(pqxx::connection_base& conn, const std::vector<std::string>& customers) {
  if (customers.empty()) return;
  try {
    pqxx::work tx(conn, "wake");
    wakeWaitingEvents(tx, customers);
    tx.commit();
  } catch (const std::exception& e) {
    // Never the batch's failure: it is committed. A lost connection is
    // noticed and replaced before the next batch.
    log::warn("waking events that waited for a customer's link failed; they wait for their backoff",
              {{"customers", customers.size()}, {"error", sql::errorText(e)}});
  }
}

void recordOutcomes(pqxx::transaction_base& tx, const std::vector<EventOutcome>& outcomes,
                    const RetryPolicy& policy) {
  if (outcomes.empty()) return;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& o : outcomes) {
    const auto after = afterRun(o.outcome.status, o.outcome.retry, o.runsBefore, policy);
    rows.push_back(
        {{"id", o.eventId},
         {"status", toString(after.status)},
         {"error", o.outcome.error},
         {"finished", after.finished},
         {"retry_in", after.retryIn ? nlohmann::json(*after.retryIn) : nlohmann::json()}});
  }
  sql::execPrepared(tx, "event_outcomes",
                    R"(UPDATE "StripeWebhookEvent" e SET
             "status" = v."status", "attempts" = e."attempts" + 1,
             "lastError" = NULLIF(v."error", ''),
             "processedAt" = CASE WHEN v."finished" THEN now() AT TIME ZONE 'UTC' END,
             "nextAttemptAt" = now() AT TIME ZONE 'UTC' + make_interval(secs => v."retry_in")
         FROM jsonb_to_recordset($1::jsonb) AS v("id" text, "status" text, "error" text,
                                                  "finished" boolean, "retry_in" float8)
         WHERE e."id" = v."id"
           -- Spelled out so the planner probes the primary key instead of
           -- hashing the whole table against the batch.
           AND e."id" = ANY(ARRAY(SELECT r->>'id' FROM jsonb_array_elements($1::jsonb) r)))",
                    rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ProcessOutcome replayEvent(pqxx::connection_base& conn, const EventInput& input,
                           const RetryPolicy& policy) {
  const auto& event = *input.envelope;
  AppliedEvents applied;
  {
    pqxx::work tx(conn, "replay");
    // The event first, then its rows, as the retrier locks them; and its
    // attempts as they are now (the retrier may have run it meanwhile).
    const auto row = sql::execPrepared(
        tx, "event_lock_attempts",
        R"(SELECT "attempts" FROM "StripeWebhookEvent" WHERE "id" = $1 FOR UPDATE)", event.id);
    // Pruned since it was listed: nothing to replay.
    if (row.empty()) return failed("the event is no longer stored");
    const int runsBefore = row[0][0].as<int>();
    applied = applyEvents(tx, std::span(&input, 1));
    recordOutcomes(tx, {{event.id, applied.outcomes.front(), runsBefore}}, policy);
    tx.commit();
  }
  metrics::registry().eventsProcessed.inc({event.type, toString(applied.outcomes.front().status)});
  wakeLinkedCustomers(conn, applied.linkedCustomers);
  return applied.outcomes.front();
}

}  // namespace effectd::handlers
