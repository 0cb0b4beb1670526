// Rule: freePort never hands out the same port twice in one process (the kernel may offer a closed
// port again; a test that starts two listeners would then collide on it), and, where the kernel
// says its ephemeral range, one below it: ports in that range are also the local ports of outgoing
// connections, one of which could take the port between the probe and the listen (EADDRINUSE).
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/processes';

const RANGE = '/proc/sys/net/ipv4/ip_local_port_range';

it('gives a thousand distinct ports, below the ephemeral range', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 1000; i += 1) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) expect(port).toBeGreaterThan(0);
  if (existsSync(RANGE)) {
    const low = Number(readFileSync(RANGE, 'utf8').trim().split(/\s+/)[0]);
    for (const port of ports) expect(port).toBeLessThan(low);
  }
});
