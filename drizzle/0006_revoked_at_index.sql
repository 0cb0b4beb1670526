-- Waits at most 10 s for the table (a long transaction on sessions would otherwise hold every
-- login and refresh queued behind this): run db:migrate again then. On a large table, create
-- the index beforehand with CREATE INDEX CONCURRENTLY (README), and this is a no-op.
SET LOCAL lock_timeout = '10s';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "sessions_revoked_at_idx" ON "sessions" USING btree ("revoked_at") WHERE revoked_at IS NOT NULL;
