import { isIPv6, type Server } from 'node:net';

/** 0.0.0.0, or :: however it is written (::0, 0:0:0:0:0:0:0:0). */
const isEveryInterface = (host: string) => host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));

/**
 * The URL of `path` on a listener (the port it got, when asked for 0), as this machine reaches it.
 */
export function listeningUrl(server: Pick<Server, 'address'>, host: string, port: number, path = '/graphql') {
  const shownHost = host === '127.0.0.1' || isEveryInterface(host) ? 'localhost' : isIPv6(host) ? `[${host}]` : host;
  const address = server.address();
  return `http://${shownHost}:${typeof address === 'object' && address ? address.port : port}${path}`;
}

/** What the start-up line adds for a listener other machines reach too. */
export function reach(host: string) {
  return isEveryInterface(host) ? ` (listening on every interface, ${host})` : '';
}
