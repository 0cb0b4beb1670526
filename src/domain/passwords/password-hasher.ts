/**
 * argon2id behind one small class. argon2 runs on libuv's thread pool, so hashing never blocks
 * the event loop; every operation goes through the admission (a bounded number at once, a short
 * queue, SERVICE_UNAVAILABLE beyond). `verifyAgainstDummy` spends the same time, and waits in
 * the same line, as a real verification, for unknown emails; a check against a hash made with
 * other parameters lasts as long as one made with the configured ones.
 */
import { randomInt } from 'node:crypto';
import * as argon2 from 'argon2';
import { MAX_SENT_PASSWORD_UNITS, normalizePassword } from './check-password-policy';
import { HashAdmission, type HashLimits, type HashReservation } from './hash-admission';

export interface Argon2Settings {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

/** How many recent durations of a check at the configured parameters padding draws from. */
const RECENT_CHECKS = 32;

/** Version and parameters of an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$…); null for anything else. */
function argon2idParams(hash: string) {
  const match = /^\$argon2id\$v=(\d+)\$([^$]+)\$/.exec(hash);
  if (!match) return null;
  const params = new Map(match[2]!.split(',').map((kv) => kv.split('=') as [string, string]));
  const at = (name: string) => Number(params.get(name) ?? 0);
  return { v: Number(match[1]), m: at('m'), t: at('t'), p: at('p') };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class PasswordHasher {
  // Made at construction, so that even the first unknown-email login costs one verification.
  private readonly dummyHash: Promise<string>;
  private readonly admission: HashAdmission;
  /** Durations (ms) of the latest checks against hashes made with the configured parameters. */
  private readonly recent: number[] = [];
  private recentNext = 0;
  /** How long making the dummy hash took: the estimate until a check has been timed. */
  private firstEstimate = 0;

  constructor(
    private readonly settings: Argon2Settings,
    limits: HashLimits,
  ) {
    const started = performance.now();
    // Hashing costs what a check costs, but this one runs while the process starts (and may wait
    // for a core): used only until a check has been timed.
    this.dummyHash = argon2.hash('dummy password for unknown accounts', this.options).then((hash) => {
      this.firstEstimate = performance.now() - started;
      return hash;
    });
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
   * False for a wrong password and for a malformed stored hash alike. A check against a hash not
   * made with the configured parameters (stored before they were raised, another argon2 type, or
   * malformed), or of a password too long to check, ends no sooner than a check at those parameters: it waits out the rest of the
   * duration of one such check drawn from the latest few. Else a dormant account would answer
   * faster than an email without one (whose check is against the dummy hash). Waiting, rather
   * than running the argon2 work the hash lacks, matches what the caller can measure: the
   * duration, which no model of argon2's cost from memory and passes predicts closely (smaller
   * memory runs faster per KiB, and argon2i and argon2d differ from argon2id). A hash of about
   * the configured work answers at the later of its own check and the duration drawn: on a busy
   * machine, a little later than a check at the configured parameters. A hash made with more work
   * than configured cannot be evened out.
   */
  verify(hash: string, password: string, place?: HashReservation): Promise<boolean> {
    return this.admitted(place, async () => {
      const started = performance.now();
      let ok = false;
      let ran = false;
      // Longer than any password the policy accepts: wrong, without normalizing it.
      if (password.length <= MAX_SENT_PASSWORD_UNITS) {
        try {
          ok = await argon2.verify(hash, normalizePassword(password));
          ran = true;
        } catch {
          // A malformed hash: nothing ran.
        }
      }
      const took = performance.now() - started;
      if (ran && this.isConfigured(hash)) {
        this.remember(took);
      } else {
        const target = await this.recentDuration();
        if (took < target) await sleep(target - took);
      }
      return ok;
    });
  }

  /** Made with exactly the configured parameters (argon2id, version 19, the same m, t and p). */
  private isConfigured(hash: string) {
    const stored = argon2idParams(hash);
    const { memoryKib, timeCost, parallelism } = this.settings;
    return stored !== null && stored.v === 19 && stored.m === memoryKib && stored.t === timeCost && stored.p === parallelism;
  }

  private remember(ms: number) {
    this.recent[this.recentNext] = ms;
    this.recentNext = (this.recentNext + 1) % RECENT_CHECKS;
  }

  /** One of the latest durations, at random: padded checks spread as the checks they imitate. */
  private async recentDuration() {
    await this.dummyHash;
    return this.recent.length === 0 ? this.firstEstimate : this.recent[randomInt(this.recent.length)]!;
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
