// Rule: the storm's load generator offers its rate evenly spread over each second, whatever the answers (open loop), not each second's quota as one burst (what autocannon's own rate limit does).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPacedLoad } from '../../bench/load';

let server: Server;
let url: string;
const arrivals: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    arrivals.push(performance.now());
    request.resume();
    request.on('end', () => response.end('{"data":{"ok":true}}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('spreads 40 requests a second evenly instead of sending them in one burst', { timeout: 20_000 }, async () => {
  const result = await runPacedLoad({
    url,
    seconds: 3,
    rate: 40,
    request: () => ({ body: '{}' }),
    classify: (status) => (status === 200 ? 'ok' : 'error'),
  });
  expect(result.outcomes.ok).toBe(120); // 3 s at 40 a second, each answered once
  expect(result.transportErrors).toBe(0);
  expect(arrivals).toHaveLength(120);
  // Evenly spread, 40 a second is one every 25 ms, about 4 in any 100 ms; a late timer (a busy
  // machine) sends what is due at once, a few more. A burst puts the whole second's 40 together.
  const busiest = Math.max(...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 100).length));
  expect(busiest).toBeLessThanOrEqual(20);
  expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(2800);
});
