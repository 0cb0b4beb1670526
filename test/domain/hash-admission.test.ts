// Rule: at most PASSWORD_HASH_CONCURRENCY hashes run and PASSWORD_HASH_QUEUE wait (a reservation counts from when it is taken), first come first served; one more is refused at once with SERVICE_UNAVAILABLE, and a finished hash admits the next. One client holds at most PASSWORD_HASH_PER_CLIENT of those places (RATE_LIMITED beyond), until its hash has run or the place is given back.
import { describe, expect, it } from 'vitest';
import { RateLimitedError, ServiceUnavailableError } from '../../src/errors';
import { HashAdmission } from '../../src/domain/passwords/hash-admission';

/** Work that ends when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, work: () => opened };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('HashAdmission', () => {
  it('runs `concurrency` at once, queues `queue` more in order, refuses the rest at once', async () => {
    const admission = new HashAdmission({ concurrency: 1, queue: 2, perClient: 3 });
    const started: string[] = [];
    const gates = { a: gate(), b: gate(), c: gate() };
    const run = (name: keyof typeof gates) =>
      admission.run(async () => {
        started.push(name);
        await gates[name].work();
        return name;
      });
    const a = run('a');
    const b = run('b');
    const c = run('c');
    await tick();
    expect(started).toEqual(['a']);
    expect(admission.saturated).toBe(true);
    await expect(admission.run(async () => 'd')).rejects.toBeInstanceOf(ServiceUnavailableError);

    expect(admission.load).toEqual({ running: 1, waiting: 2 });
    gates.a.open();
    expect(await a).toBe('a');
    await tick();
    expect(started).toEqual(['a', 'b']); // first come, first served
    expect(admission.load).toEqual({ running: 1, waiting: 1 }); // a's place handed to b, not freed besides
    expect(admission.saturated).toBe(false); // a place in the queue is free again
    gates.b.open();
    gates.c.open();
    expect(await Promise.all([b, c])).toEqual(['b', 'c']);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('frees the place of a hash that failed', async () => {
    const admission = new HashAdmission({ concurrency: 1, queue: 0, perClient: 1 });
    await expect(admission.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(admission.saturated).toBe(false);
    expect(await admission.run(async () => 'next')).toBe('next');
  });

  it('counts a reservation from the moment it is taken, until it has run or is released', async () => {
    const admission = new HashAdmission({ concurrency: 1, queue: 1, perClient: 2 });
    const first = admission.reserve('client');
    const second = admission.reserve('client');
    expect(admission.saturated).toBe(true);
    expect(() => admission.reserve('client')).toThrow(ServiceUnavailableError);
    await expect(admission.run(async () => 'x')).rejects.toBeInstanceOf(ServiceUnavailableError);

    second.release();
    second.release(); // a second release gives nothing back twice
    expect(admission.saturated).toBe(false);
    const third = admission.reserve('client');
    expect(admission.saturated).toBe(true);

    expect(await first.run(async () => 'first')).toBe('first');
    await expect(first.run(async () => 'again')).rejects.toThrow('runs once');
    first.release(); // after a run: nothing to give back
    expect(await third.run(async () => 'third')).toBe('third');
    expect(admission.saturated).toBe(false);
  });

  it("holds one client to its share of the places, which it gets back when its hash has run or its place is released", async () => {
    const admission = new HashAdmission({ concurrency: 1, queue: 3, perClient: 2 });
    const hog = gate();
    const first = admission.reserve('a');
    const second = admission.reserve('a');
    expect(() => admission.assertAdmissible('a')).toThrow(RateLimitedError);
    expect(() => admission.reserve('a')).toThrow(RateLimitedError);
    // Another client still gets in: the places are not all taken.
    const other = admission.reserve('b');
    const running = first.run(hog.work);
    second.release();
    const again = admission.reserve('a'); // the released place is the client's again
    expect(() => admission.reserve('a')).toThrow(RateLimitedError); // one running, one reserved
    hog.open();
    await running;
    admission.reserve('a').release(); // its hash has run: the place is free again
    again.release();
    other.release();
  });

  it("counts a client's places right after a release that follows its run (as every caller's finally does)", async () => {
    const admission = new HashAdmission({ concurrency: 2, queue: 2, perClient: 2 });
    const used = admission.reserve('a');
    expect(await used.run(async () => 'done')).toBe('done');
    used.release(); // nothing to give back: the place left with its hash
    expect(admission.load).toEqual({ running: 0, waiting: 0 });
    const places = [admission.reserve('a'), admission.reserve('a')];
    expect(() => admission.reserve('a')).toThrow(RateLimitedError);
    for (const place of places) place.release();
  });

  it("gives a client's place back when its hash fails", async () => {
    const admission = new HashAdmission({ concurrency: 1, queue: 0, perClient: 1 });
    await expect(admission.reserve('a').run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const next = admission.reserve('a'); // neither the client's share nor the place is still held
    expect(admission.saturated).toBe(true);
    next.release();
    expect(admission.saturated).toBe(false);
  });
});
