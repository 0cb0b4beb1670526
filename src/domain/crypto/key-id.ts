/** What an ENCRYPTION_KEYS id may be: 1–32 letters, digits, `_` or `-`. */
export const ENCRYPTION_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
