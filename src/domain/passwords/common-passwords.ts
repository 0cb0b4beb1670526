/**
 * The common-password list: zxcvbn-ts's maintained list of ~49,000 leaked passwords. Loaded
 * once, lower-cased, so the check is a set lookup.
 */
import { dictionary } from '@zxcvbn-ts/language-common';

let set: Set<string> | undefined;

export function isCommonPassword(normalized: string): boolean {
  set ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return set.has(normalized.toLowerCase());
}

export const commonPasswordCount = () => {
  isCommonPassword('');
  return set!.size;
};
