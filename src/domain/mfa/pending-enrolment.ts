import { addSeconds } from '../clock';

/** How long a pending enrolment (enrollMfa) can be confirmed. */
const MFA_ENROLMENT_TTL_SECONDS = 900;

/** Pending enrolments saved before this can no longer be confirmed: their secrets are dead. */
export const enrolmentsLiveSince = (now: Date) => addSeconds(now, -MFA_ENROLMENT_TTL_SECONDS);
