-- An organization can have several subscriptions over time: a plan switch by a
-- new subscription cancels the old one a second after the new one starts, and
-- Stripe delivers those events in any order. The row shows the subscription
-- that ranks first (live before ended, then created later), which needs every
-- subscription's newest state, not only the shown one's:
-- "stripeSubscriptions" keeps them (a JSON array, at most 16, the shown one
-- first; handlers/subscription_ordering.hpp), and
-- "stripeSubscriptionCreatedAt" says when the shown one was created.
--
-- "stripeLinkedAt" is the time of the Stripe event that set
-- "stripeCustomerId": an older checkout never moves a newer link.
ALTER TABLE "Subscription"
    ADD COLUMN "stripeSubscriptionCreatedAt" TIMESTAMP(3),
    ADD COLUMN "stripeSubscriptions" JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN "stripeLinkedAt" TIMESTAMP(3);

-- Rows written before this migration (or by an older build since) list
-- nothing yet: the handlers read the columns' own subscription into the list
-- when it is missing there (handlers/billing_rows.cpp, lockRows).

-- When the shown subscription was created, from the stored event that made
-- the row what it is, while it is still stored (retention prunes processed
-- events). Where it is gone the time stays unknown, which ranks as newest.
UPDATE "Subscription" s
SET "stripeSubscriptionCreatedAt" =
        to_timestamp((e."payload" #>> '{data,object,created}')::bigint) AT TIME ZONE 'UTC'
FROM "StripeWebhookEvent" e
WHERE e."id" = s."stripeEventId"
  AND s."stripeSubscriptionId" IS NOT NULL
  AND e."payload" #>> '{data,object,id}' = s."stripeSubscriptionId"
  AND jsonb_typeof(e."payload" #> '{data,object,created}') = 'number';
