import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';

/**
 * The bucket of a client address: IPv4 as is, IPv6 per /64 (one subscriber usually holds a
 * whole /64, so per-address limits would be free to evade).
 */
export function clientKey(ip: string | null): string {
  if (!ip || !ipaddr.isValid(ip)) return 'unknown';
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
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
  if (!ipaddr.isValid(ip)) return false;
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
  return INTERNAL_RANGES.has(address.range());
}
