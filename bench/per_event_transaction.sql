-- The reference for `make bench`: effectd's whole per-event transaction for a
-- customer.subscription.updated of an organization whose row and welcome
-- effects exist (the steady state), statement for statement as effectd runs
-- it for a batch of one (captured with log_statement=all on 2026-12-03), one
-- event per transaction, for pgbench -M prepared. pgbench reads ":word" as a
-- variable even inside a string, hence keys spelled 'email:' || ... .
-- Variables: :payload (-D), :org and :n (\set below).
-- Keep in step with handlers/billing_rows.cpp, queue/enqueue.cpp and
-- intake/intake_writer.cpp.
\set org random(0, 999)
\set n random(1, 999999999999)
BEGIN;
SELECT s.* FROM (
    SELECT f."id", f."organizationId"
    FROM jsonb_array_elements_text(jsonb_build_array('org_b' || :org::text)) AS wanted(v)
    CROSS JOIN LATERAL (SELECT "id", "organizationId" FROM "Subscription"
                        WHERE "organizationId" = wanted.v LIMIT 1) f
    UNION
    SELECT f."id", f."organizationId"
    FROM jsonb_array_elements_text(jsonb_build_array('cus_dev_org_b' || :org::text)) AS wanted(v)
    CROSS JOIN LATERAL (SELECT "id", "organizationId" FROM "Subscription"
                        WHERE "stripeCustomerId" = wanted.v LIMIT 1) f
    ORDER BY 2) found
  CROSS JOIN LATERAL (
    SELECT "organizationId", "stripeCustomerId", COALESCE("stripeSubscriptionId", ''),
           "status", extract(epoch FROM "stripeEventAt")::bigint,
           COALESCE("stripeEventId", ''), "livemode"
    FROM "Subscription"
    WHERE "id" = found."id"
      AND ("organizationId" = ANY(ARRAY(SELECT jsonb_array_elements_text(jsonb_build_array('org_b' || :org::text))))
           OR "stripeCustomerId" = ANY(ARRAY(SELECT jsonb_array_elements_text(jsonb_build_array('cus_dev_org_b' || :org::text)))))
    FOR UPDATE) s;
SELECT o."id", o."name", r."email", r.rank
  FROM jsonb_array_elements_text(jsonb_build_array('org_b' || :org::text)) AS wanted(v)
  CROSS JOIN LATERAL (SELECT "id", "name" FROM "Organization" WHERE "id" = wanted.v LIMIT 1) o
  LEFT JOIN LATERAL (
    SELECT u."email",
           CASE WHEN 'owner' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 0
                WHEN 'admin' = ANY(string_to_array(replace(m."role", ' ', ''), ',')) THEN 1
           END AS rank
    FROM "Member" m LEFT JOIN "User" u ON u."id" = m."userId"
    WHERE m."organizationId" = o."id" OFFSET 0) r ON true
  ORDER BY o."id", r.rank NULLS LAST, r."email";
UPDATE "Subscription" s SET
    "stripeCustomerId" = v."customer", "stripeSubscriptionId" = v."subscription",
    "stripePriceId" = NULLIF(v."price", ''), "stripeProductId" = NULLIF(v."product", ''),
    "status" = v."status", "quantity" = v."quantity",
    "currentPeriodStart" = to_timestamp(v."periodStart") AT TIME ZONE 'UTC',
    "currentPeriodEnd" = to_timestamp(v."periodEnd") AT TIME ZONE 'UTC',
    "cancelAt" = to_timestamp(v."cancelAt") AT TIME ZONE 'UTC',
    "cancelAtPeriodEnd" = v."cancelAtPeriodEnd",
    "canceledAt" = to_timestamp(v."canceledAt") AT TIME ZONE 'UTC',
    "endedAt" = to_timestamp(v."endedAt") AT TIME ZONE 'UTC',
    "trialStart" = to_timestamp(v."trialStart") AT TIME ZONE 'UTC',
    "trialEnd" = to_timestamp(v."trialEnd") AT TIME ZONE 'UTC',
    "livemode" = v."livemode",
    "stripeEventAt" = to_timestamp(v."eventAt") AT TIME ZONE 'UTC',
    "stripeEventId" = v."eventId",
    "updatedAt" = now() AT TIME ZONE 'UTC'
  FROM jsonb_to_recordset(jsonb_build_array(jsonb_build_object(
         'org', 'org_b' || :org::text, 'price', 'price_dev_pro_monthly', 'status', 'active',
         'endedAt', NULL, 'eventAt', 1796286248, 'eventId', 'evt_pgbench_' || :n::text,
         'product', 'prod_dev_pro', 'cancelAt', NULL, 'customer', 'cus_dev_org_b' || :org::text,
         'livemode', false, 'quantity', 1, 'trialEnd', NULL, 'periodEnd', 1798878248,
         'canceledAt', NULL, 'trialStart', NULL, 'periodStart', 1796286248,
         'subscription', 'sub_dev_org_b' || :org::text, 'cancelAtPeriodEnd', false)))
       AS v("org" text, "customer" text, "subscription" text, "price" text, "product" text,
            "status" text, "quantity" integer, "periodStart" bigint, "periodEnd" bigint,
            "cancelAt" bigint, "cancelAtPeriodEnd" boolean, "canceledAt" bigint,
            "endedAt" bigint, "trialStart" bigint, "trialEnd" bigint, "livemode" boolean,
            "eventAt" bigint, "eventId" text)
  WHERE s."organizationId" = v."org"
    AND s."organizationId" = ANY(ARRAY(SELECT 'org_b' || :org::text));
INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "organizationId",
    "sourceEventId", "status", "maxAttempts", "runAt", "createdAt", "updatedAt")
  SELECT v."id", v."key", v."kind", v."payload", NULLIF(v."org", ''),
      NULLIF(v."event", ''), 'pending', COALESCE(NULLIF(v."maxAttempts", 0), 12),
      COALESCE(NULLIF(v."runAt", '')::timestamptz AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
      now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
  FROM jsonb_to_recordset(jsonb_build_array(
         jsonb_build_object('id', gen_random_uuid()::text,
           'key', 'analytics:' || 'subscription_started:' || 'sub_dev_org_b' || :org::text,
           'org', 'org_b' || :org::text, 'kind', 'analytics', 'event', 'evt_pgbench_' || :n::text,
           'runAt', '', 'maxAttempts', 0,
           'payload', jsonb_build_object('event', 'subscription_started', 'distinctId', 'org_b' || :org::text)),
         jsonb_build_object('id', gen_random_uuid()::text,
           'key', 'email:' || 'subscription_started:' || 'sub_dev_org_b' || :org::text,
           'org', 'org_b' || :org::text, 'kind', 'email', 'event', 'evt_pgbench_' || :n::text,
           'runAt', '', 'maxAttempts', 0,
           'payload', jsonb_build_object('to', jsonb_build_array('owner@bench.example'),
                                         'template', 'subscription_started'))))
       AS v("id" text, "key" text, "kind" text, "org" text, "event" text,
            "maxAttempts" integer, "runAt" text, "payload" jsonb)
  ON CONFLICT ("key") DO NOTHING;
INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "apiVersion", "account",
    "stripeCreatedAt", "payload", "status", "lastError", "attempts", "processedAt",
    "nextAttemptAt", "receivedAt")
  VALUES ('evt_pgbench_' || :n::text, 'customer.subscription.updated', 'f'::boolean,
    NULLIF('2025-03-31.basil', ''), NULLIF('', ''), to_timestamp('1796286248'::bigint) AT TIME ZONE 'UTC',
    :payload::jsonb, 'processed', NULLIF('', ''), 1,
    CASE WHEN 'processed' = 'failed' THEN NULL ELSE now() AT TIME ZONE 'UTC' END,
    now() AT TIME ZONE 'UTC' + make_interval(secs => NULLIF('', '')::float8), now() AT TIME ZONE 'UTC')
  ON CONFLICT ("id") DO NOTHING RETURNING "id";
COMMIT;
