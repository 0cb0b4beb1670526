/**
 * argon2id behind one small class. argon2 runs on libuv's thread pool, so hashing never blocks
 * the event loop; every operation goes through the admission (a bounded number at once, a short
 * queue, SERVICE_UNAVAILABLE beyond). `verifyAgainstDummy` spends the same work, and waits in
 * the same line, as a real verification, for unknown emails; a check against a hash made with
 * less work than configured runs the work it lacks.
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

/**
 * The largest parameters a stored hash may have to be checked at all, the configured ranges'
 * (ARGON2_*): argon2 reads each as a 32-bit unsigned integer, so a larger one (2^32 + 1 passes)
 * would run as another, and one far beyond these would hold a thread for hours.
 */
const MAX_STORED = { m: 4_194_304, t: 20, p: 16 } as const;
const PARAMETER = /^[1-9]\d{0,6}$/;

/**
 * Type, version and parameters of an argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$…; without
 * `v=`, as older encoders wrote it, version 16); null for anything else, and for parameters
 * that are not whole numbers within MAX_STORED.
 */
function argon2Params(hash: string) {
  const match = /^\$(argon2id|argon2i|argon2d)\$(?:v=(16|19)\$)?([^$]+)\$/.exec(hash);
  if (!match) return null;
  const params = new Map(match[3]!.split(',').map((kv) => kv.split('=') as [string, string]));
  const at = (name: keyof typeof MAX_STORED) => {
    const value = params.get(name);
    return value !== undefined && PARAMETER.test(value) && Number(value) <= MAX_STORED[name] ? Number(value) : null;
  };
  const [m, t, p] = [at('m'), at('t'), at('p')];
  if (m === null || t === null || p === null) return null;
  return { type: match[1]!, v: Number(match[2] ?? 16), m, t, p };
}

/**
 * The argon2id run that makes up for a stored hash's missing work, in argon2's own unit (memory
 * × passes, whatever the type or lanes): the fewest passes that fit the missing amount within
 * the configured memory, over an equal share of it each (never more memory than a check takes).
 * None when the hash has as much work as configured. Smaller memory runs somewhat faster per
 * KiB, so a hash with much less memory than configured still answers a little sooner. Lanes are
 * not counted: argon2 runs a thread per lane, so a hash with more lanes than configured answers
 * sooner on idle cores (two: about 0.6x) but later on busy ones, where its threads wait for each
 * other; padding it as if its lanes always ran at once made it 2x slower on a busy machine.
 */
export function paddingFor(settings: Argon2Settings, stored: { m: number; t: number }) {
  const { memoryKib, timeCost, parallelism } = settings;
  const missing = memoryKib * timeCost - stored.m * stored.t;
  if (missing < 8 * parallelism) return null; // argon2's smallest memory
  const passes = Math.ceil(missing / memoryKib);
  const memoryCost = Math.max(8 * parallelism, Math.round(missing / passes));
  return { type: argon2.argon2id, memoryCost, timeCost: passes, parallelism } as const;
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
   * False for a wrong password and for a malformed stored hash alike. What an unknown email's
   * check against the dummy hash costs, every check costs, whatever is stored: a hash made with
   * less work than configured (stored before the parameters were raised, or by another argon2
   * type) is followed by an argon2 run of the work it lacks, and a check that could not run (no
   * argon2 hash, a malformed one, a password too long to check) by a run of the whole configured
   * work. Else a dormant account would answer sooner than an email without one. Real work rather
   * than a wait: a wait would use no core, and requests beside it would show the difference (and
   * durations to wait for could be skewed by load an attacker makes).
   */
  verify(hash: string, password: string, place?: HashReservation): Promise<boolean> {
    return this.admitted(place, async () => {
      let ok = false;
      let ran = false;
      const stored = argon2Params(hash);
      // Longer than any password the policy accepts: wrong, without normalizing it. No argon2
      // hash at all (node-argon2 answers false for another scheme's at once), or one whose
      // parameters argon2 would read otherwise or take hours over: nothing to check.
      if (password.length <= MAX_SENT_PASSWORD_UNITS && stored) {
        try {
          ok = await argon2.verify(hash, normalizePassword(password));
          ran = true;
        } catch {
          // A malformed hash: nothing ran.
        }
      }
      const padding = ran && stored ? paddingFor(this.settings, stored) : this.options;
      if (padding) await argon2.hash(PADDING_INPUT, padding);
      return ok;
    });
  }

  /**
   * True when the stored hash is not what the configured parameters make, unless it has more
   * memory or passes: another type or version, less memory or passes, or other lanes at the
   * same memory and passes (lanes change how long a check takes, not its strength). A stronger
   * hash is never "upgraded" to weaker settings (node-argon2's own needsRehash would; it also
   * ignores the type).
   */
  needsRehash(hash: string): boolean {
    const stored = argon2Params(hash);
    if (!stored || stored.type !== 'argon2id' || stored.v < 19) return true;
    const { memoryKib, timeCost, parallelism } = this.settings;
    if (stored.m < memoryKib || stored.t < timeCost) return true;
    return stored.p !== parallelism && stored.m === memoryKib && stored.t === timeCost;
  }

  async verifyAgainstDummy(password: string, place?: HashReservation): Promise<false> {
    await this.verify(await this.dummyHash, password, place);
    return false;
  }

  private admitted<T>(place: HashReservation | undefined, work: () => Promise<T>) {
    return place ? place.run(work) : this.admission.run(work);
  }
}
