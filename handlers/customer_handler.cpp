// customer.deleted: Stripe cancels the customer's subscriptions and sends
// customer.subscription.deleted for each, which is what changes the row.
// The organization keeps its row (its history) and its link, so that late
// events of the customer still resolve; nothing is sent for this event.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "daemon/log.hpp"
#include "handlers/handler.hpp"
#include "handlers/stripe_objects.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {

HandlerResult handleCustomerDeleted(HandlerContext& ctx) {
  const auto customer =
      idOf(ctx.object.is_object() ? ctx.object.value("id", nlohmann::json()) : nlohmann::json());
  const auto linked = sql::execPrepared(
      ctx.tx, "customer_linked_org",
      R"(SELECT "organizationId" FROM "Subscription" WHERE "stripeCustomerId" = $1)", customer);
  log::info("stripe customer deleted",
            {{"customer", customer},
             {"organization_id", linked.empty() ? std::string() : linked[0][0].as<std::string>()}});
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
