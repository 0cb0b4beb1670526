// Rule: the processes a test starts are stopped with it: killAll ends a child and every process
// the child started, which a signal to the child alone would leave running.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { childEnv, isRunning, spawnTsx, tempDir } from '../helpers/processes';

it('killAll stops the processes a child started, not only the child', { timeout: 30_000 }, async () => {
  const dir = tempDir('child-processes');
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'parent.ts');
  writeFileSync(
    script,
    [
      "import { spawn } from 'node:child_process';",
      "const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
      'console.log(`pid ${grandchild.pid}`);',
      'setInterval(() => {}, 1000);',
      '',
    ].join('\n'),
  );
  const child = spawnTsx(script, [], childEnv());
  onTestFinished(() => child.killAll()); // should an expectation fail before the one under test
  const [, pid] = await child.waitFor(/pid (\d+)/, 20_000);
  const grandchildPid = Number(pid);
  expect(grandchildPid).not.toBe(child.process.pid);
  expect(isRunning(grandchildPid)).toBe(true);
  child.killAll();
  await child.exited;
  const deadline = Date.now() + 5_000;
  while (isRunning(grandchildPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(isRunning(grandchildPid)).toBe(false);
});
