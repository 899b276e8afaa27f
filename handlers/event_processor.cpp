#include "handlers/event_processor.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "daemon/log.hpp"
#include "handlers/handler.hpp"
#include "sql/error_text.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {
namespace {

using Handler = HandlerResult (*)(HandlerContext&);

Handler handlerFor(std::string_view type) {
  if (type == "customer.subscription.created" || type == "customer.subscription.updated" ||
      type == "customer.subscription.deleted" || type == "customer.subscription.paused" ||
      type == "customer.subscription.resumed" || type == "customer.subscription.trial_will_end") {
    return handleSubscriptionEvent;
  }
  if (type == "checkout.session.completed") return handleCheckoutSessionCompleted;
  if (type == "invoice.paid" || type == "invoice.payment_succeeded" ||
      type == "invoice.payment_failed") {
    return handleInvoiceEvent;
  }
  if (type == "customer.deleted") return handleCustomerDeleted;
  return nullptr;
}

}  // namespace

std::string_view toString(EventStatus status) {
  switch (status) {
    case EventStatus::Processed:
      return "processed";
    case EventStatus::Ignored:
      return "ignored";
    case EventStatus::Failed:
      return "failed";
  }
  return "failed";
}

bool isHandledType(std::string_view type) {
  return handlerFor(type) != nullptr;
}

ProcessOutcome runHandler(pqxx::dbtransaction& tx, const EventEnvelope& event,
                          std::string_view payload) {
  ProcessOutcome outcome;
  const auto handler = handlerFor(event.type);
  if (!handler) {
    outcome.status = EventStatus::Ignored;
    return outcome;
  }
  const auto doc = nlohmann::json::parse(payload, nullptr, false);
  static const nlohmann::json null;
  const auto& data = doc.is_object() && doc.contains("data") ? doc["data"] : null;
  const auto& object = data.is_object() && data.contains("object") ? data["object"] : null;
  const auto& previous =
      data.is_object() && data.contains("previous_attributes") ? data["previous_attributes"] : null;
  pqxx::subtransaction savepoint(tx, "handler");
  try {
    HandlerContext ctx{savepoint, event, object, previous};
    outcome.status =
        handler(ctx) == HandlerResult::Processed ? EventStatus::Processed : EventStatus::Ignored;
    savepoint.commit();
  } catch (const pqxx::broken_connection&) {
    throw;  // the whole transaction is lost: the caller answers 503
  } catch (const pqxx::in_doubt_error&) {
    throw;
  } catch (const std::exception& e) {
    savepoint.abort();
    outcome.status = EventStatus::Failed;
    outcome.error = dynamic_cast<const RetryLater*>(&e) ? e.what() : sql::errorText(e);
    log::warn("event handler failed",
              {{"event_id", event.id}, {"event_type", event.type}, {"error", outcome.error}});
  }
  return outcome;
}

void recordOutcomes(pqxx::transaction_base& tx, const std::vector<EventOutcome>& outcomes,
                    const RetryPolicy& policy) {
  if (outcomes.empty()) return;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& o : outcomes) {
    rows.push_back(
        {{"id", o.eventId}, {"status", toString(o.outcome.status)}, {"error", o.outcome.error}});
  }
  // A failed event is due again after exponential backoff with ±25% jitter;
  // past the last attempt it waits for an operator (events replay), with no
  // nextAttemptAt.
  sql::execPrepared(tx, "event_outcomes",
                    R"(UPDATE "StripeWebhookEvent" e SET
             "status" = v."status", "attempts" = e."attempts" + 1,
             "lastError" = NULLIF(v."error", ''),
             "processedAt" = CASE WHEN v."status" = 'failed' THEN NULL
                                  ELSE now() AT TIME ZONE 'UTC' END,
             "nextAttemptAt" = CASE WHEN v."status" = 'failed' AND e."attempts" + 1 < $2
               THEN now() AT TIME ZONE 'UTC'
                 + make_interval(secs => LEAST($4::float8, $3::float8 * power(2, LEAST(e."attempts", 20)))
                                         * (0.75 + random() * 0.5)) END
         FROM jsonb_to_recordset($1::jsonb) AS v("id" text, "status" text, "error" text)
         WHERE e."id" = v."id"
           -- Spelled out so the planner probes the primary key instead of
           -- hashing the whole table against the batch.
           AND e."id" = ANY(ARRAY(SELECT r->>'id' FROM jsonb_array_elements($1::jsonb) r)))",
                    rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    policy.maxAttempts, static_cast<double>(policy.base.count()),
                    static_cast<double>(policy.max.count()));
}

ProcessOutcome processEvent(pqxx::dbtransaction& tx, const EventEnvelope& event,
                            std::string_view payload, const RetryPolicy& policy) {
  auto outcome = runHandler(tx, event, payload);
  recordOutcomes(tx, {{event.id, outcome}}, policy);
  return outcome;
}

}  // namespace effectd::handlers
