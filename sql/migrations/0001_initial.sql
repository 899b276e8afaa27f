-- effectd schema, version 1.
--
-- Prisma conventions: quoted PascalCase tables, camelCase columns, TIMESTAMP(3)
-- holding UTC, JSONB for Json, text ids, constraint names as Prisma generates
-- them. sql/prisma/schema.prisma describes the same models.

-- Identity tables. Better Auth owns them in the app; effectd only reads them,
-- so they are created when absent and left alone when the app made them.
CREATE TABLE IF NOT EXISTS "Organization" (
    "id"        TEXT         NOT NULL,
    "name"      TEXT         NOT NULL,
    "slug"      TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "metadata"  TEXT,
    CONSTRAINT "Organization_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "Organization_slug_key" ON "Organization" ("slug");

CREATE TABLE IF NOT EXISTS "User" (
    "id"            TEXT         NOT NULL,
    "name"          TEXT         NOT NULL,
    "email"         TEXT         NOT NULL,
    "emailVerified" BOOLEAN      NOT NULL DEFAULT false,
    "createdAt"     TIMESTAMP(3) NOT NULL,
    "updatedAt"     TIMESTAMP(3) NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "User_email_key" ON "User" ("email");

CREATE TABLE IF NOT EXISTS "Member" (
    "id"             TEXT         NOT NULL,
    "organizationId" TEXT         NOT NULL,
    "userId"         TEXT         NOT NULL,
    "role"           TEXT         NOT NULL,
    "createdAt"      TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Member_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Member_organizationId_fkey" FOREIGN KEY ("organizationId")
        REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Member_userId_fkey" FOREIGN KEY ("userId")
        REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
-- Email recipients are looked up by organization and role.
CREATE INDEX IF NOT EXISTS "Member_organizationId_role_idx" ON "Member" ("organizationId", "role");

-- Stripe's subscription state, mirrored per organization.
CREATE TABLE "Subscription" (
    "id"                   TEXT         NOT NULL,
    "organizationId"       TEXT         NOT NULL,
    "stripeCustomerId"     TEXT         NOT NULL,
    "stripeSubscriptionId" TEXT,
    "stripePriceId"        TEXT,
    "stripeProductId"      TEXT,
    "status"               TEXT         NOT NULL DEFAULT 'incomplete',
    "quantity"             INTEGER,
    "currentPeriodStart"   TIMESTAMP(3),
    "currentPeriodEnd"     TIMESTAMP(3),
    "cancelAt"             TIMESTAMP(3),
    "cancelAtPeriodEnd"    BOOLEAN      NOT NULL DEFAULT false,
    "canceledAt"           TIMESTAMP(3),
    "endedAt"              TIMESTAMP(3),
    "trialStart"           TIMESTAMP(3),
    "trialEnd"             TIMESTAMP(3),
    "livemode"             BOOLEAN      NOT NULL DEFAULT false,
    "stripeEventAt"        TIMESTAMP(3),
    "stripeEventId"        TEXT,
    "createdAt"            TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"            TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Subscription_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Subscription_organizationId_fkey" FOREIGN KEY ("organizationId")
        REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Subscription_organizationId_key" ON "Subscription" ("organizationId");
CREATE UNIQUE INDEX "Subscription_stripeCustomerId_key" ON "Subscription" ("stripeCustomerId");
CREATE UNIQUE INDEX "Subscription_stripeSubscriptionId_key" ON "Subscription" ("stripeSubscriptionId");

-- Every Stripe webhook event, stored once (the id is Stripe's evt_...).
CREATE TABLE "StripeWebhookEvent" (
    "id"              TEXT         NOT NULL,
    "type"            TEXT         NOT NULL,
    "livemode"        BOOLEAN      NOT NULL,
    "apiVersion"      TEXT,
    "account"         TEXT,
    "stripeCreatedAt" TIMESTAMP(3) NOT NULL,
    "payload"         JSONB        NOT NULL,
    "status"          TEXT         NOT NULL DEFAULT 'received',
    "attempts"        INTEGER      NOT NULL DEFAULT 0,
    "lastError"       TEXT,
    "nextAttemptAt"   TIMESTAMP(3),
    "receivedAt"      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processedAt"     TIMESTAMP(3),
    CONSTRAINT "StripeWebhookEvent_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "StripeWebhookEvent_status_check"
        CHECK ("status" IN ('received', 'processed', 'ignored', 'failed'))
);
-- The retry loop looks for due failed events; operators list by type and age.
CREATE INDEX "StripeWebhookEvent_status_nextAttemptAt_idx" ON "StripeWebhookEvent" ("status", "nextAttemptAt");
CREATE INDEX "StripeWebhookEvent_type_stripeCreatedAt_idx" ON "StripeWebhookEvent" ("type", "stripeCreatedAt");
CREATE INDEX "StripeWebhookEvent_receivedAt_idx" ON "StripeWebhookEvent" ("receivedAt");

-- The transactional outbox: emails, analytics events and outgoing webhooks,
-- deduplicated by a semantic key. The id has a database default so that
-- anyone may enqueue with plain SQL.
CREATE TABLE "OutboundEffect" (
    "id"                TEXT         NOT NULL DEFAULT (gen_random_uuid())::text,
    "key"               TEXT         NOT NULL,
    "kind"              TEXT         NOT NULL,
    "payload"           JSONB        NOT NULL,
    "organizationId"    TEXT,
    "sourceEventId"     TEXT,
    "status"            TEXT         NOT NULL DEFAULT 'pending',
    "attempts"          INTEGER      NOT NULL DEFAULT 0,
    "maxAttempts"       INTEGER      NOT NULL DEFAULT 12,
    "runAt"             TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy"          TEXT,
    "lockedUntil"       TIMESTAMP(3),
    "lastError"         TEXT,
    "providerMessageId" TEXT,
    "sentAt"            TIMESTAMP(3),
    "createdAt"         TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"         TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "OutboundEffect_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "OutboundEffect_kind_check" CHECK ("kind" IN ('email', 'analytics', 'webhook')),
    CONSTRAINT "OutboundEffect_status_check"
        CHECK ("status" IN ('pending', 'running', 'sent', 'dead', 'cancelled', 'unknown')),
    CONSTRAINT "OutboundEffect_attempts_check" CHECK ("attempts" >= 0 AND "maxAttempts" >= 1)
);
CREATE UNIQUE INDEX "OutboundEffect_key_key" ON "OutboundEffect" ("key");
-- The claim query scans only due pending rows; the rescuer only running ones.
CREATE INDEX "OutboundEffect_runAt_pending_idx" ON "OutboundEffect" ("runAt") WHERE "status" = 'pending';
CREATE INDEX "OutboundEffect_lockedUntil_running_idx" ON "OutboundEffect" ("lockedUntil") WHERE "status" = 'running';
-- Listings by status and retention pruning by age.
CREATE INDEX "OutboundEffect_status_updatedAt_idx" ON "OutboundEffect" ("status", "updatedAt");
CREATE INDEX "OutboundEffect_sourceEventId_idx" ON "OutboundEffect" ("sourceEventId");

-- Wake the drainers when an effect becomes pending, whoever wrote it (the
-- daemon, the app through Prisma, plain SQL). NOTIFY is delivered at commit
-- and identical payloads within a transaction fold into one.
CREATE FUNCTION effectd_outbound_effect_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('effectd_outbound_effect', NEW."kind");
    RETURN NULL;
END;
$$;

CREATE TRIGGER "OutboundEffect_notify_pending_insert"
    AFTER INSERT ON "OutboundEffect"
    FOR EACH ROW WHEN (NEW."status" = 'pending')
    EXECUTE FUNCTION effectd_outbound_effect_notify();

CREATE TRIGGER "OutboundEffect_notify_pending_update"
    AFTER UPDATE OF "status", "runAt" ON "OutboundEffect"
    FOR EACH ROW WHEN (NEW."status" = 'pending')
    EXECUTE FUNCTION effectd_outbound_effect_notify();
