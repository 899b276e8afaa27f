-- The drainer claims each kind up to a limit of its own (a throttled or
-- paused kind takes only what it can start soon): each kind's due effects
-- are read in runAt order from an index of their own, so that a backlog of
-- one kind is never walked through to find another's.
DROP INDEX "OutboundEffect_runAt_pending_idx";
CREATE INDEX "OutboundEffect_kind_runAt_pending_idx" ON "OutboundEffect" ("kind", "runAt")
    WHERE "status" = 'pending';
