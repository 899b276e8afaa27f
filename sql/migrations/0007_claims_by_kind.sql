-- The drainer claims each kind up to a limit of its own (a throttled or
-- paused kind takes only what it can start soon): each kind's due effects
-- are read in runAt order from an index of their own, so that a backlog of
-- one kind is never walked through to find another's.
--
-- The new index first: the old one serves until this transaction commits.
-- CREATE INDEX reads the whole table and blocks writes to it meanwhile (an
-- enqueue waits, it is not refused): on a large table, run it at a quiet time.
CREATE INDEX "OutboundEffect_kind_runAt_pending_idx" ON "OutboundEffect" ("kind", "runAt")
    WHERE "status" = 'pending';
DROP INDEX "OutboundEffect_runAt_pending_idx";
