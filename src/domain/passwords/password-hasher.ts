/**
 * argon2id behind one small class. argon2 runs on libuv's thread pool, so hashing never blocks
 * the event loop. `verifyAgainstDummy` spends the same time as a real verification, for
 * unknown emails.
 */
import * as argon2 from 'argon2';
import { normalizePassword } from './check-password-policy';

export interface Argon2Settings {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

export class PasswordHasher {
  // Made at construction, so that even the first unknown-email login costs one verification.
  private readonly dummyHash: Promise<string>;

  constructor(private readonly settings: Argon2Settings) {
    this.dummyHash = argon2.hash('dummy password for unknown accounts', this.options);
  }

  private get options() {
    return {
      type: argon2.argon2id,
      memoryCost: this.settings.memoryKib,
      timeCost: this.settings.timeCost,
      parallelism: this.settings.parallelism,
    } as const;
  }

  hash(password: string): Promise<string> {
    return argon2.hash(normalizePassword(password), this.options);
  }

  /** False for a wrong password and for a malformed stored hash alike. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, normalizePassword(password));
    } catch {
      return false;
    }
  }

  /**
   * True when the stored hash is weaker than the configured parameters: not argon2id, or less
   * memory, time or parallelism. (node-argon2's own needsRehash ignores the type and would also
   * "upgrade" to weaker settings.)
   */
  needsRehash(hash: string): boolean {
    const match = /^\$argon2id\$v=(\d+)\$([^$]+)\$/.exec(hash);
    if (!match) return true;
    const params = new Map(match[2]!.split(',').map((kv) => kv.split('=') as [string, string]));
    const at = (name: string) => Number(params.get(name) ?? 0);
    const { memoryKib, timeCost, parallelism } = this.settings;
    return Number(match[1]) < 19 || at('m') < memoryKib || at('t') < timeCost || at('p') < parallelism;
  }

  async verifyAgainstDummy(password: string): Promise<false> {
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
