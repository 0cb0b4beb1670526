// Rule: rate-limit keys bucket IPv4 clients per address and IPv6 clients per /64, IPv4-mapped IPv6 as its IPv4, anything else as 'unknown'; emails are keyed by their canonical spelling, hashed.
import { describe, expect, it } from 'vitest';
import { canonicalEmail } from '../../src/domain/auth/normalize-email';
import { clientKey, emailKey, isInternalAddress } from '../../src/domain/throttle';

describe('clientKey', () => {
  it('keeps an IPv4 address as is', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('203.0.113.8')).not.toBe(clientKey('203.0.113.7'));
  });

  it('gives every address of one IPv6 /64 the same key, whatever its spelling', () => {
    const key = clientKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    for (const address of [
      '2001:db8:1:2::ffff',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:0DB8:0001:0002:0000:0000:0000:0009',
      '2001:db8:1:2:a:b:c:d',
    ]) {
      expect(clientKey(address), address).toBe(key);
    }
  });

  it('gives different /64s different keys', () => {
    const key = clientKey('2001:db8:1:2::1');
    for (const address of ['2001:db8:1:3::1', '2001:db8:1:102::1', '2001:db9:1:2::1', '::1']) {
      expect(clientKey(address), address).not.toBe(key);
    }
  });

  it('keys an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:cb00:7107')).toBe('203.0.113.7');
  });

  it("keys a missing or malformed address as 'unknown'", () => {
    for (const address of [null, '', 'not-an-ip', '203.0.113.256', '2001:db8::1::2', '203.0.113.7/24', ' ']) {
      expect(clientKey(address), String(address)).toBe('unknown');
    }
  });
});

describe('emailKey', () => {
  it('is the same for every spelling of one email once canonical, and differs between emails', () => {
    const key = emailKey(canonicalEmail('Alice@Example.test')!);
    expect(emailKey(canonicalEmail(' alice@EXAMPLE.test. ')!)).toBe(key);
    expect(emailKey(canonicalEmail('alice2@example.test')!)).not.toBe(key);
  });

  it('holds no part of the address and has a bounded length', () => {
    const long = `${'a'.repeat(240)}@example.test`;
    for (const email of ['alice@example.test', long]) {
      const key = emailKey(email);
      expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(key).not.toContain('alice');
    }
  });
});

describe('isInternalAddress (where a hop-count TRUST_PROXY may sit)', () => {
  it('accepts loopback, private, unique-local and link-local addresses, IPv4-mapped too', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.7', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1']) {
      expect(isInternalAddress(ip), ip).toBe(true);
    }
  });

  it('refuses public addresses and garbage, so a direct client cannot pick its X-Forwarded-For', () => {
    for (const ip of ['203.0.113.9', '8.8.8.8', '2001:db8::1', '::ffff:8.8.8.8', 'nonsense', '']) {
      expect(isInternalAddress(ip), ip).toBe(false);
    }
  });
});
