-- Guards that hold whatever build, app or session writes.
--
-- Column defaults in UTC. CURRENT_TIMESTAMP into a TIMESTAMP(3) column is the
-- session's local time: an app insert from a session in +09 got a "runAt"
-- nine hours ahead (not due until then) and a wrong "createdAt".
ALTER TABLE "OutboundEffect"
    ALTER COLUMN "runAt" SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN "createdAt" SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN "updatedAt" SET DEFAULT (now() AT TIME ZONE 'UTC');
ALTER TABLE "StripeWebhookEvent"
    ALTER COLUMN "receivedAt" SET DEFAULT (now() AT TIME ZONE 'UTC');
ALTER TABLE "Subscription"
    ALTER COLUMN "createdAt" SET DEFAULT (now() AT TIME ZONE 'UTC');

-- A key goes into providers' headers (Idempotency-Key, webhook-id) and mail
-- headers (Message-ID): no control characters, and not empty. NOT VALID:
-- rows already stored are not checked (the migration cannot fail on them),
-- every new or changed row is.
ALTER TABLE "OutboundEffect" ADD CONSTRAINT "OutboundEffect_key_check"
    CHECK ("key" <> '' AND "key" !~ '[[:cntrl:]]') NOT VALID;

-- A key once used stays used (migration 0003): retention compacts sent and
-- cancelled effects and never deletes them. A build older than 0003 still
-- deletes them, and every key it deletes could be sent again; the database
-- refuses. An operator who must delete rows says so in the session:
--   SET effectd.allow_effect_delete = 'on';
CREATE FUNCTION effectd_outbound_effect_keep_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('effectd.allow_effect_delete', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'OutboundEffect rows are never deleted: a deleted key could be sent again'
        USING ERRCODE = 'restrict_violation',
              HINT = 'effectd retention compacts old effects; to delete anyway, SET effectd.allow_effect_delete = ''on''';
END;
$$;

CREATE TRIGGER "OutboundEffect_keep_keys"
    BEFORE DELETE ON "OutboundEffect"
    FOR EACH ROW EXECUTE FUNCTION effectd_outbound_effect_keep_keys();
