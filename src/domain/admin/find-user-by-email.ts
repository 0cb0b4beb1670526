import { BadUserInputError } from '../../errors';
import { normalizeEmail } from '../auth/normalize-email';
import type { UserStore } from '../ports';

export async function findUserByEmail(users: UserStore, email: string) {
  const user = await users.findByEmail(normalizeEmail(email));
  if (!user) throw new BadUserInputError(`No user with email ${email}.`, 'email');
  return user;
}
