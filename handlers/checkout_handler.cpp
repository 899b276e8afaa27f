// checkout.session.completed: links the organization (client_reference_id or
// metadata.organizationId) to the Stripe customer, and wakes the events that
// were waiting for that link.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "handlers/handler.hpp"
#include "handlers/stripe_objects.hpp"
#include "sql/ids.hpp"

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
      ctx.tx.exec_params(R"(SELECT 1 FROM "Organization" WHERE "id" = $1)", session.organizationId);
  if (org.empty()) throw RetryLater("organization " + session.organizationId + " does not exist");

  // Creates the link, or moves it to this customer. A replay changes nothing.
  ctx.tx.exec_params(
      R"(INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "livemode",
             "createdAt", "updatedAt")
         VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
         ON CONFLICT ("organizationId") DO UPDATE
           SET "stripeCustomerId" = EXCLUDED."stripeCustomerId", "updatedAt" = EXCLUDED."updatedAt"
           WHERE "Subscription"."stripeCustomerId" <> EXCLUDED."stripeCustomerId")",
      sql::newUuidV7(), session.organizationId, session.customer, session.livemode);

  // Events of this customer that failed for want of this link are due now.
  ctx.tx.exec_params(
      R"(UPDATE "StripeWebhookEvent" SET "nextAttemptAt" = now() AT TIME ZONE 'UTC'
         WHERE "status" = 'failed' AND "nextAttemptAt" IS NOT NULL
           AND "payload" #>> '{data,object,customer}' = $1)",
      session.customer);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
