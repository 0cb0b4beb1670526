-- Since this version the gateway compares emails in one canonical spelling, NFKC-normalised
-- among other things (é sent as e + combining accent is é). Rows written before in another
-- normal form take NFKC here, so that their owners can still sign in. A row whose NFKC form
-- another account already has keeps its spelling (that owner is asked to pick another address),
-- rather than failing the migration. Unicode normalisation needs a UTF8 database: on another
-- encoding nothing was stored but in one form anyway.
DO $$
BEGIN
  IF current_setting('server_encoding') = 'UTF8' THEN
    EXECUTE $update$
      WITH candidates AS (
        SELECT "id", normalize("email", NFKC) AS "canonical",
               row_number() OVER (PARTITION BY normalize("email", NFKC) ORDER BY "created_at", "id") AS "rank"
        FROM "users"
        WHERE "email" IS NOT NFKC NORMALIZED
      )
      UPDATE "users" SET "email" = c."canonical"
      FROM candidates c
      WHERE "users"."id" = c."id" AND c."rank" = 1
        AND NOT EXISTS (SELECT 1 FROM "users" o WHERE o."email" = c."canonical")
    $update$;
  END IF;
END
$$;
