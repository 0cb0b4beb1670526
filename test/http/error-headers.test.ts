// Rule: an answer with errors says Cache-Control: no-store, and Retry-After gives the longest
// wait any of its errors asks for (RATE_LIMITED, SERVICE_UNAVAILABLE), whatever their order.
import { HeaderMap, type GraphQLRequestContextWillSendResponse } from '@apollo/server';
import { describe, expect, it } from 'vitest';
import { errorsPlugin } from '../../src/graphql/plugins/errors';

/** What Apollo hands the plugin for an answer with these errors. */
async function headersFor(errors: Array<{ message: string; extensions?: Record<string, unknown> }>) {
  const headers = new HeaderMap([['cache-control', 'private, no-cache, must-revalidate']]);
  const listener = await errorsPlugin.requestDidStart!({} as never);
  const context = {
    errors: errors.map((e) => new Error(e.message)),
    response: { http: { headers }, body: { kind: 'single', singleResult: { errors } } },
  };
  await listener!.willSendResponse!(context as unknown as GraphQLRequestContextWillSendResponse<never>);
  return headers;
}

describe('the error headers plugin', () => {
  it('sets Retry-After to the largest retryAfter, in any order', async () => {
    const limited = { message: 'Too many attempts.', extensions: { code: 'RATE_LIMITED', retryAfter: 900 } };
    const unavailable = { message: 'Unavailable.', extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: 1 } };
    for (const errors of [[limited, unavailable], [unavailable, limited]]) {
      const headers = await headersFor(errors);
      expect(headers.get('retry-after')).toBe('900');
      expect(headers.get('cache-control')).toBe('no-store');
    }
  });

  it('sets no Retry-After when no error asks to wait', async () => {
    const headers = await headersFor([{ message: 'Invalid token.', extensions: { code: 'INVALID_TOKEN' } }]);
    expect(headers.get('retry-after')).toBeUndefined();
    expect(headers.get('cache-control')).toBe('no-store');
  });
});
