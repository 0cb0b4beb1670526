// Rule: a request that reaches an instance after it began to shut down (pipelined behind one in
// flight, or on a kept-alive connection) is not run: 503 SERVICE_UNAVAILABLE in the GraphQL
// shape, and the connection closes; the request in flight finishes.
import { connect } from 'node:net';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { users } from '../../src/storage/postgres/schema';
import { PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway } from '../helpers/gateway';

const request = (body: string) =>
  `POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('while the server closes', () => {
  it('finishes the request in flight and refuses the one pipelined behind it', async () => {
    // A database of the test's own, to look into once the gateway is gone.
    const { database, drop } = await createTestDatabase();
    const gw = await startGateway({ database });
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));

    // The first request is in flight (its body half sent) when the close begins.
    const first = request(JSON.stringify({ query: '{ __typename }' }));
    const cut = first.length - 5;
    socket.write(first.slice(0, cut));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = gw.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const email = uniqueEmail('late');
    const second = request(JSON.stringify({ query: `mutation { register(email: "${email}", password: "${PASSWORD}") }` }));
    socket.write(first.slice(cut) + second);
    await ended;
    await closed;

    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(answers[0]).toContain('{"data":{"__typename":"Query"}}');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503 /);
    expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i);
    expect(answers[1]).toMatch(/\r\nretry-after: 1\r\n/i);
    const body = answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({
      errors: [{ message: 'Service unavailable: this instance is shutting down.', extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: 1 } }],
    });
    // Not run: no account was made.
    try {
      expect(await database.db.select().from(users).where(eq(users.email, email))).toEqual([]);
    } finally {
      await drop();
    }
  }, 60_000);
});
