// checkout.session.completed: links the organization (client_reference_id or
// metadata.organizationId) to the Stripe customer, and wakes the events that
// were waiting for that link.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "handlers/handler.hpp"
#include "handlers/stripe_objects.hpp"
#include "sql/ids.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::handlers {

HandlerResult handleCheckoutSessionCompleted(HandlerContext& ctx) {
  const auto session = readCheckoutSession(ctx.object);
  if (session.mode != "subscription" || session.customer.empty()) return HandlerResult::Ignored;
  if (session.organizationId.empty()) {
    // Nothing will ever link it: retrying cannot help, but failing makes it
    // visible to an operator, who can replay it once the app is fixed.
    throw RetryLater("checkout session " + session.id +
                     " has no client_reference_id or metadata.organizationId");
  }
  const auto org =
      sql::execPrepared(ctx.tx, "checkout_org_exists",
                        R"(SELECT 1 FROM "Organization" WHERE "id" = $1)", session.organizationId);
  if (org.empty()) throw RetryLater("organization " + session.organizationId + " does not exist");

  // Creates the link, or moves it to this customer. A replay changes nothing.
  sql::execPrepared(
      ctx.tx, "checkout_link",
      R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "livemode",
             "createdAt", "updatedAt")
         VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
         ON CONFLICT ("organizationId") DO UPDATE
           SET "stripeCustomerId" = EXCLUDED."stripeCustomerId", "updatedAt" = EXCLUDED."updatedAt"
           WHERE "Subscription"."stripeCustomerId" <> EXCLUDED."stripeCustomerId")",
      sql::newUuidV7(), session.organizationId, session.customer, session.livemode);

  // Events of this customer that failed for want of this link are due now.
  sql::execPrepared(ctx.tx, "checkout_wake_waiting",
                    R"(UPDATE "StripeWebhookEvent" SET "nextAttemptAt" = now() AT TIME ZONE 'UTC'
         WHERE "status" = 'failed' AND "nextAttemptAt" IS NOT NULL
           AND "payload" #>> '{data,object,customer}' = $1)",
                    session.customer);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
