// Rule: a TOTP code is accepted within ±1 step (30 s) of the gateway's clock, and once a step is accepted only later steps are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifyMfaDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { challenge, enableMfa, totpAt } from '../helpers/mfa';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

/**
 * A user with MFA on, and the clock moved past the confirming code's neighbours to the middle of a
 * step: the test clock runs on with real time, and a step boundary crossed between making a code
 * and checking it would shift every offset by one.
 */
async function mfaUserMidStep() {
  const user = await signUp(gw);
  const factor = await enableMfa(gw, user.accessToken, user.password);
  gw.clock.advance(90);
  gw.clock.advance(((45_000 - (gw.clock.now().getTime() % 30_000)) % 30_000) / 1000);
  return { ...user, ...factor };
}

/** verifyMfa on a fresh challenge with the code of `offset` seconds from now: its error code, or 'OK'. */
async function verifyAt(user: Awaited<ReturnType<typeof mfaUserMidStep>>, offset: number) {
  const { mfaToken } = await challenge(gw, user.email, user.password);
  const code = totpAt(user.secret, new Date(gw.clock.now().getTime() + offset * 1000));
  const result = await gw.gql(VerifyMfaDocument, { mfaToken, code });
  return result.data?.verifyMfa?.accessToken ? 'OK' : codeOf(result);
}

describe('the drift window', () => {
  it('accepts the codes of one step behind and one ahead, and not of two steps either way', async () => {
    const user = await mfaUserMidStep();
    expect(await verifyAt(user, -60), '60 s behind').toBe('INVALID_MFA_CODE');
    expect(await verifyAt(user, 60), '60 s ahead').toBe('INVALID_MFA_CODE');
    // Behind before ahead: each accepted step is later than the one before it.
    expect(await verifyAt(user, -30), '30 s behind').toBe('OK');
    expect(await verifyAt(user, 30), '30 s ahead').toBe('OK');
  });
});

describe('replay', () => {
  it('accepts step N-1 and then step N, and afterwards neither of them on a new challenge', async () => {
    const user = await mfaUserMidStep();
    expect(await verifyAt(user, -30), 'step N-1').toBe('OK');
    expect(await verifyAt(user, 0), 'step N').toBe('OK');
    expect(await verifyAt(user, -30), 'step N-1 again').toBe('INVALID_MFA_CODE');
    expect(await verifyAt(user, 0), 'step N again').toBe('INVALID_MFA_CODE');
  });

  it('refuses a step earlier than the last accepted one, though it was never used itself', async () => {
    const user = await mfaUserMidStep();
    expect(await verifyAt(user, 0), 'step N').toBe('OK');
    expect(await verifyAt(user, -30), 'step N-1').toBe('INVALID_MFA_CODE');
    expect(await verifyAt(user, 30), 'step N+1').toBe('OK');
  });
});
