import type { KeyRing } from './key-ring';
import type { AccessClaims } from './verify-access-token';

interface Entry {
  claims: AccessClaims;
  expiresAtMs: number;
}

/**
 * Access tokens this instance has verified, so that a guarded request does not verify the same
 * token again: jose verifies with WebCrypto on libuv's thread pool, where each verification
 * would queue behind the password hashes of a login storm.
 *
 * Contract: an entry answers only before the token's `exp` (never within the clock-skew
 * allowance after it: that goes back to full verification), or its age limit if that comes
 * first (the caller's `expiresAtMs`), and only under the keys it was
 * verified with: a reloaded ring that publishes another set of keys (one retired, say) empties
 * the cache; the periodic reload of an unchanged set keeps it. Revocation is not
 * cached: the guard asks the revocation feed on every request, hit or miss. Keyed by the whole
 * token (exact: no two tokens share an entry; hashing it first would cost more than the
 * lookup saves); bounded, least recently used out first. Only valid tokens are kept: garbage
 * cannot fill it.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private keys: string | undefined;

  constructor(readonly maxEntries: number) {}

  get(ring: KeyRing, token: string, now: Date): AccessClaims | undefined {
    if (!this.sameRing(ring)) return undefined;
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (now.getTime() >= entry.expiresAtMs) return undefined;
    this.entries.set(token, entry); // most recently used last
    return entry.claims;
  }

  set(ring: KeyRing, token: string, claims: AccessClaims, expiresAtMs: number) {
    this.keys ??= ring.verificationId;
    // Verified under a ring that has been replaced meanwhile: not kept, and the cache not emptied.
    if (this.maxEntries === 0 || this.keys !== ring.verificationId) return;
    this.entries.delete(token);
    // Shared by every request that presents the token: nobody may change it.
    Object.freeze(claims.roles);
    Object.freeze(claims.amr);
    this.entries.set(token, { claims: Object.freeze(claims), expiresAtMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size() {
    return this.entries.size;
  }

  /** Adopts `ring`'s keys, dropping every entry verified under others; false when they were others. */
  private sameRing(ring: KeyRing) {
    if (this.keys === ring.verificationId) return true;
    this.entries.clear();
    this.keys = ring.verificationId;
    return false;
  }
}
