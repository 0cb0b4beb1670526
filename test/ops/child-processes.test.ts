// Rule: the processes a test starts are stopped with it: killAll ends a tsx child and the node
// process tsx runs the script in, which a SIGKILL to tsx alone would leave running.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { childEnv, spawnTsx, tempDir } from '../helpers/processes';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('killAll stops the script tsx runs, not only tsx', { timeout: 30_000 }, async () => {
  const script = path.join(tempDir('child-processes'), 'idle.ts');
  writeFileSync(script, "console.log(`pid ${process.pid}`);\nsetInterval(() => {}, 1000);\n");
  const child = spawnTsx(script, [], childEnv());
  const [, pid] = await child.waitFor(/pid (\d+)/, 20_000);
  const scriptPid = Number(pid);
  // tsx runs the script in a process of its own.
  expect(scriptPid).not.toBe(child.process.pid);
  expect(alive(scriptPid)).toBe(true);
  child.killAll();
  await child.exited;
  const deadline = Date.now() + 5_000;
  while (alive(scriptPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(alive(scriptPid)).toBe(false);
});
