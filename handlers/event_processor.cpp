#include "handlers/event_processor.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>

#include "daemon/log.hpp"
#include "handlers/handler.hpp"
#include "sql/error_text.hpp"

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

void record(pqxx::transaction_base& tx, const std::string& id, const ProcessOutcome& outcome,
            const RetryPolicy& policy) {
  if (outcome.status != EventStatus::Failed) {
    tx.exec_params(
        R"(UPDATE "StripeWebhookEvent" SET "status" = $2, "attempts" = "attempts" + 1,
               "lastError" = NULL, "nextAttemptAt" = NULL, "processedAt" = now() AT TIME ZONE 'UTC'
           WHERE "id" = $1)",
        id, std::string(toString(outcome.status)));
    return;
  }
  const auto row = tx.exec_params(
      R"(UPDATE "StripeWebhookEvent" SET "status" = 'failed', "attempts" = "attempts" + 1,
             "lastError" = $2, "processedAt" = NULL
         WHERE "id" = $1 RETURNING "attempts")",
      id, outcome.error);
  const int attempts = row.empty() ? policy.maxAttempts : row[0][0].as<int>();
  // Past the last attempt the event waits for an operator (events replay).
  if (attempts < policy.maxAttempts) {
    tx.exec_params(
        R"(UPDATE "StripeWebhookEvent"
           SET "nextAttemptAt" = now() AT TIME ZONE 'UTC' + make_interval(secs => $2)
           WHERE "id" = $1)",
        id, static_cast<double>(policy.delayAfter(attempts).count()));
  } else {
    tx.exec_params(R"(UPDATE "StripeWebhookEvent" SET "nextAttemptAt" = NULL WHERE "id" = $1)", id);
  }
}

}  // namespace

std::chrono::seconds RetryPolicy::delayAfter(int attempts) const {
  thread_local std::mt19937 rng{std::random_device{}()};
  const auto exponent = std::min(attempts - 1, 20);
  const auto raw = std::min<std::int64_t>(base.count() << std::max(exponent, 0), max.count());
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  return std::chrono::seconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(raw * jitter(rng))));
}

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

ProcessOutcome processEvent(pqxx::dbtransaction& tx, const EventEnvelope& event,
                            std::string_view payload, const RetryPolicy& policy) {
  ProcessOutcome outcome;
  const auto handler = handlerFor(event.type);
  if (!handler) {
    outcome.status = EventStatus::Ignored;
  } else {
    const auto doc = nlohmann::json::parse(payload, nullptr, false);
    static const nlohmann::json null;
    const auto& data = doc.is_object() && doc.contains("data") ? doc["data"] : null;
    const auto& object = data.is_object() && data.contains("object") ? data["object"] : null;
    const auto& previous = data.is_object() && data.contains("previous_attributes")
                               ? data["previous_attributes"]
                               : null;
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
  }
  record(tx, event.id, outcome, policy);
  return outcome;
}

}  // namespace effectd::handlers
