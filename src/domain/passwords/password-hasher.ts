/**
 * argon2id behind one small class. argon2 runs on libuv's thread pool, so hashing never blocks
 * the event loop; every operation goes through the admission (a bounded number at once, a short
 * queue, SERVICE_UNAVAILABLE beyond). `verifyAgainstDummy` spends the same time, and waits in
 * the same line, as a real verification, for unknown emails.
 */
import * as argon2 from 'argon2';
import { MAX_SENT_PASSWORD_UNITS, normalizePassword } from './check-password-policy';
import { HashAdmission, type HashLimits, type HashReservation } from './hash-admission';

export interface Argon2Settings {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

const PADDING_INPUT = 'padding for a hash made with less work than configured';

/** Version and parameters of an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$…); null for anything else. */
function argon2idParams(hash: string) {
  const match = /^\$argon2id\$v=(\d+)\$([^$]+)\$/.exec(hash);
  if (!match) return null;
  const params = new Map(match[2]!.split(',').map((kv) => kv.split('=') as [string, string]));
  const at = (name: string) => Number(params.get(name) ?? 0);
  return { v: Number(match[1]), m: at('m'), t: at('t'), p: at('p') };
}

export class PasswordHasher {
  // Made at construction, so that even the first unknown-email login costs one verification.
  private readonly dummyHash: Promise<string>;
  private readonly admission: HashAdmission;

  constructor(
    private readonly settings: Argon2Settings,
    limits: HashLimits,
  ) {
    this.dummyHash = argon2.hash('dummy password for unknown accounts', this.options);
    this.admission = new HashAdmission(limits);
  }

  /**
   * A place in line for one operation of `client` (its address key), taken before the caller
   * spends anything else (a rate-limit point, a lookup); ServiceUnavailableError at once while
   * hashing is saturated, RateLimitedError while the client holds its share of the places. Pass
   * it to the operation, and release it in a `finally` (a no-op once it has run).
   */
  reserve(client: string): HashReservation {
    return this.admission.reserve(client);
  }

  /** Throws what `reserve(client)` would throw now (a cheap look, nothing reserved). */
  assertAdmissible(client: string) {
    this.admission.assertAdmissible(client);
  }

  /** Hashes running and waiting now (the metrics). */
  get load() {
    return this.admission.load;
  }

  private get options() {
    return {
      type: argon2.argon2id,
      memoryCost: this.settings.memoryKib,
      timeCost: this.settings.timeCost,
      parallelism: this.settings.parallelism,
    } as const;
  }

  hash(password: string, place?: HashReservation): Promise<string> {
    return this.admitted(place, () => argon2.hash(normalizePassword(password), this.options));
  }

  /**
   * False for a wrong password and for a malformed stored hash alike. A hash made with less
   * work than the configured parameters (stored before they were raised) is padded with the
   * missing work, so that it takes as long as an unknown email's dummy verification: else a
   * dormant account would answer faster than an email without one.
   */
  verify(hash: string, password: string, place?: HashReservation): Promise<boolean> {
    return this.admitted(place, async () => {
      let ok: boolean;
      try {
        // Longer than any password the policy accepts: wrong, without normalizing it.
        ok = password.length <= MAX_SENT_PASSWORD_UNITS && (await argon2.verify(hash, normalizePassword(password)));
      } catch {
        ok = false;
      }
      const padding = this.paddingFor(hash);
      if (padding) await argon2.hash(PADDING_INPUT, padding);
      return ok;
    });
  }

  /**
   * The argon2id run that makes up for a stored hash's missing work. argon2's cost grows with
   * memory × passes: one pass over the missing amount, or, when that is more than the configured
   * memory, as many passes over the configured memory as come nearest (never more memory than a
   * verification takes). None for a hash that is not argon2id (nothing to measure) or has as much
   * work as configured.
   */
  private paddingFor(hash: string) {
    const stored = argon2idParams(hash);
    if (!stored) return null;
    const { memoryKib, timeCost, parallelism } = this.settings;
    const missing = memoryKib * timeCost - stored.m * stored.t;
    if (missing < 8 * parallelism) return null; // argon2's smallest memory
    const passes = Math.max(1, Math.round(missing / memoryKib));
    return { type: argon2.argon2id, memoryCost: Math.min(missing, memoryKib), timeCost: passes, parallelism } as const;
  }

  /**
   * True when the stored hash is weaker than the configured parameters: not argon2id, or less
   * memory, time or parallelism. (node-argon2's own needsRehash ignores the type and would also
   * "upgrade" to weaker settings.)
   */
  needsRehash(hash: string): boolean {
    const stored = argon2idParams(hash);
    if (!stored) return true;
    const { memoryKib, timeCost, parallelism } = this.settings;
    return stored.v < 19 || stored.m < memoryKib || stored.t < timeCost || stored.p < parallelism;
  }

  async verifyAgainstDummy(password: string, place?: HashReservation): Promise<false> {
    await this.verify(await this.dummyHash, password, place);
    return false;
  }

  private admitted<T>(place: HashReservation | undefined, work: () => Promise<T>) {
    return place ? place.run(work) : this.admission.run(work);
  }
}
