// Rule: freePort never hands out the same port twice in one process (the kernel may offer a closed port again; a test that starts two listeners would then collide on it).
import { expect, it } from 'vitest';
import { freePort } from '../helpers/processes';

it('gives a thousand distinct ports', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 1000; i += 1) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) expect(port).toBeGreaterThan(0);
});
