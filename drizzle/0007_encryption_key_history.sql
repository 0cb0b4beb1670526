CREATE TABLE "encryption_key_history" (
	"key_id" text PRIMARY KEY NOT NULL,
	"current_since" timestamp with time zone NOT NULL
);
