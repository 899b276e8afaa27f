-- A key once used stays used, however old. Retention no longer deletes sent or
-- cancelled effects: it compacts them (the payload and error text are dropped,
-- the key and its outcome stay), so the unique index on "key" still turns a
-- later enqueue of the same key (a handler, the app's Prisma upsert, plain SQL)
-- into a no-op. "payloadPrunedAt" says when that happened.
ALTER TABLE "OutboundEffect" ADD COLUMN "payloadPrunedAt" TIMESTAMP(3);

-- Whether the daemon holding the lease delivers through a provider that
-- deduplicates on the key. Written at claim time, with "lockedBy"; the rescuer
-- of an expired lease decides from it, not from its own configuration (in a
-- fleet switching from Resend to SMTP, the two differ). NULL (a claim by an
-- older build) is treated as "not safe to resend".
ALTER TABLE "OutboundEffect" ADD COLUMN "lockedIdempotent" BOOLEAN;

-- The provider of the latest attempt (resend, smtp, posthog...), kept after
-- it ends. An effect due again after an attempt that may have reached that
-- provider is only sent through the same one, which recognises the repeat:
-- a daemon delivering through another marks it unknown instead.
ALTER TABLE "OutboundEffect" ADD COLUMN "lastProvider" TEXT;

-- Retention finds the rows it has not compacted yet without walking the
-- compacted ones, which accumulate forever.
CREATE INDEX "OutboundEffect_retention_idx" ON "OutboundEffect" ("updatedAt")
    WHERE "status" IN ('sent', 'cancelled') AND "payloadPrunedAt" IS NULL;
