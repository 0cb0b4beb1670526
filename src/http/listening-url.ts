import type { Server } from 'node:net';

const EVERY_INTERFACE = new Set(['0.0.0.0', '::']);

/**
 * The URL of `path` on a listener (the port it got, when asked for 0), as this machine reaches it.
 */
export function listeningUrl(server: Pick<Server, 'address'>, host: string, port: number, path = '/graphql') {
  const shownHost = host === '127.0.0.1' || EVERY_INTERFACE.has(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const address = server.address();
  return `http://${shownHost}:${typeof address === 'object' && address ? address.port : port}${path}`;
}

/** What the start-up line adds for a listener other machines reach too. */
export function reach(host: string) {
  return EVERY_INTERFACE.has(host) ? ` (listening on every interface, ${host})` : '';
}
