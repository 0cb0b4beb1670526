import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningUrl, reach } from '../../src/http/listening-url';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

async function listen(host: string) {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, host, done));
  return server;
}

describe('the start-up lines', () => {
  it('name the port the listener got, as this machine reaches it', async () => {
    const server = await listen('127.0.0.1');
    const { port } = server.address() as { port: number };
    expect(listeningUrl(server, '127.0.0.1', 0)).toBe(`http://localhost:${port}/graphql`);
    expect(listeningUrl(server, '127.0.0.2', 0, '/metrics')).toBe(`http://127.0.0.2:${port}/metrics`);
    expect(reach('127.0.0.1')).toBe('');
  });

  // Only the wording from here on: a machine may have no IPv6 loopback, and tests listen on loopback addresses alone.
  const at = (port: number) => ({ address: () => ({ address: '::', family: 'IPv6', port }) });

  it('write an IPv6 address in brackets, as a URL needs it', () => {
    const url = listeningUrl(at(4001), '::1', 0);
    expect(url).toBe('http://[::1]:4001/graphql');
    expect(new URL(url).port).toBe('4001');
    expect(reach('::1')).toBe('');
  });

  it('say when a listener is on every interface, which other machines reach too, however its address is written', () => {
    expect(`${listeningUrl(at(4000), '0.0.0.0', 4000)}${reach('0.0.0.0')}`).toBe('http://localhost:4000/graphql (listening on every interface, 0.0.0.0)');
    for (const host of ['::', '::0', '0:0:0:0:0:0:0:0']) {
      expect(`${listeningUrl(at(4000), host, 4000)}${reach(host)}`).toBe(`http://localhost:4000/graphql (listening on every interface, ${host})`);
    }
  });
});
