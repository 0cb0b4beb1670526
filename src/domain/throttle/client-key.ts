import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';

/**
 * A client address as proxies write it, in its plain form: without a port ("203.0.113.7:5123",
 * "[2001:db8::1]:443", as some load balancers append to X-Forwarded-For), without brackets,
 * IPv4-mapped IPv6 as IPv4. Null for anything that is no address: such requests share one
 * bucket ('unknown'), so it is worth a warning where it happens.
 */
export function clientAddress(raw: string | undefined | null): string | null {
  return parseAddress(raw)?.toString() ?? null;
}

const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;

/** The address in `raw` (port and brackets dropped, IPv4-mapped IPv6 as IPv4), or null. */
function parseAddress(raw: string | undefined | null) {
  if (!raw) return null;
  const trimmed = raw.trim();
  const address = BRACKETED.exec(trimmed)?.[1] ?? IPV4_WITH_PORT.exec(trimmed)?.[1] ?? trimmed;
  return ipaddr.isValid(address) ? ipaddr.process(address) : null;
}

/**
 * The bucket of a client address: IPv4 as is, IPv6 per /64 (one subscriber usually holds a
 * whole /64, so per-address limits would be free to evade).
 */
export function clientKey(ip: string | null): string {
  const address = parseAddress(ip);
  if (!address) return 'unknown';
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
  return `${parts.join(':')}::/64`;
}

/**
 * Emails are hashed into keys: bounded length, and no addresses in the counter store. Callers
 * give the canonical spelling (canonicalEmail), so that other spellings give no fresh attempts.
 */
export const emailKey = (email: string) => createHash('sha256').update(email).digest('base64url').slice(0, 22);

const INTERNAL_RANGES = new Set(['loopback', 'private', 'uniqueLocal', 'linkLocal']);

/** Loopback, private (RFC 1918), unique-local or link-local: where a trusted proxy can sit. */
export function isInternalAddress(ip: string): boolean {
  const address = parseAddress(ip);
  return address !== null && INTERNAL_RANGES.has(address.range());
}
