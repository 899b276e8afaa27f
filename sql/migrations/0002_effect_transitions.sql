-- `effectd effects tail` follows the queue live: every new effect and every
-- change of an effect's status, whoever makes it, is announced on
-- effectd_effect_transition. The payload is small JSON, well under NOTIFY's
-- 8000-byte limit whatever the key or error (both are cut short here).
CREATE FUNCTION effectd_outbound_effect_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('effectd_effect_transition', json_build_object(
        'id', NEW."id",
        'key', left(NEW."key", 300),
        'kind', NEW."kind",
        'status', NEW."status",
        'attempts', NEW."attempts",
        'maxAttempts', NEW."maxAttempts",
        'at', to_char(NEW."updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'lockedBy', left(NEW."lockedBy", 200),
        'error', left(NEW."lastError", 300))::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER "OutboundEffect_notify_transition_insert"
    AFTER INSERT ON "OutboundEffect"
    FOR EACH ROW EXECUTE FUNCTION effectd_outbound_effect_transition();

CREATE TRIGGER "OutboundEffect_notify_transition_update"
    AFTER UPDATE OF "status" ON "OutboundEffect"
    FOR EACH ROW WHEN (OLD."status" IS DISTINCT FROM NEW."status")
    EXECUTE FUNCTION effectd_outbound_effect_transition();
