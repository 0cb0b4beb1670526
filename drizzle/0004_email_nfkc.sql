-- Since this version emails are looked up in one canonical spelling (NFKC, the local part in
-- lower case, the domain as IDNA maps it, no trailing dot). SQL cannot map domains as IDNA does,
-- so the rows are rewritten in TypeScript, by the same function the gateway uses, right after
-- the migrations (src/storage/postgres/canonical-emails.ts). This migration is what makes a
-- server of this version refuse to start until `npm run db:migrate` has run.
SELECT 1;
