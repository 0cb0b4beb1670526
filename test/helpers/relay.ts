/** A TCP relay for tests that need a connection to die without closing. */
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import { freePort } from './processes';

/**
 * A TCP relay to Redis on loopback. `blackhole()` does to the connections open now what a NAT
 * that forgot them does: the client's side stays open, and nothing it sends arrives or is answered;
 * connections made afterwards pass. `delayReplies(ms)`: Redis's answers reach the client that
 * much later, as from a Redis that is slow (swapping, overloaded) but answers.
 */
export async function relayTo(redisPort: number) {
  const pairs: Array<[Socket, Socket]> = [];
  const sockets = new Set<Socket>();
  let replyDelayMs = 0;
  const server = createServer((client) => {
    const upstream = connectTcp(redisPort, '127.0.0.1');
    client.pipe(upstream);
    // In order, however the delay changes: none is delivered before one received earlier.
    let lastAt = 0;
    upstream.on('data', (chunk: Buffer) => {
      lastAt = Math.max(performance.now() + replyDelayMs, lastAt);
      setTimeout(() => client.write(chunk), lastAt - performance.now());
    });
    upstream.on('end', () => setTimeout(() => client.end(), Math.max(0, lastAt - performance.now())));
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    pairs.push([client, upstream]);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    blackhole() {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.removeAllListeners('data');
        upstream.destroy();
        client.on('data', () => {}); // swallowed
      }
    },
    delayReplies(ms: number) {
      replyDelayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
