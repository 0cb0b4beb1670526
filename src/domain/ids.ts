const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids are UUIDs, written in lowercase as the database gives them back. An id from a client is
 * taken in either case (a client's UUID type may print uppercase) and returned in that one
 * spelling, since revocations and audit lines match ids as text; anything that is not a UUID is
 * null: it is known to match nothing, without asking the database.
 */
export const canonicalId = (value: unknown): string | null =>
  typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : null;
