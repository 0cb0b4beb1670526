export { PasswordHasher, type Argon2Settings } from './password-hasher';
export { HashAdmission, type HashLimits, type HashReservation } from './hash-admission';
export {
  acceptNewPassword,
  checkPasswordPolicy,
  describePasswordPolicy,
  normalizePassword,
  MAX_PASSWORD_LENGTH,
  MAX_SENT_PASSWORD_UNITS,
  type PasswordPolicy,
} from './check-password-policy';
