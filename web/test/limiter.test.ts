import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLimiter } from '../src/lib/limiter';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test('at most n at once, the rest in the order they asked', async () => {
  const limiter = createLimiter(2);
  const gates = [0, 1, 2, 3, 4].map(() => deferred<number>());
  const started: number[] = [];
  const results = gates.map((gate, i) => limiter.run(() => { started.push(i); return gate.promise; }));
  await tick();
  assert.deepEqual(started, [0, 1]);
  assert.equal(limiter.running, 2);
  assert.equal(limiter.waiting, 3);
  gates[1].resolve(10);
  await tick();
  assert.deepEqual(started, [0, 1, 2]);
  gates[0].resolve(0);
  gates[2].resolve(20);
  await tick();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  gates[3].resolve(30);
  gates[4].resolve(40);
  assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40]);
  assert.equal(limiter.running, 0);
  assert.equal(limiter.waiting, 0);
});

test('a failing task frees its slot and rejects its own promise only', async () => {
  const limiter = createLimiter(1);
  const failed = limiter.run(() => Promise.reject(new Error('boom')));
  const thrown = limiter.run(() => { throw new Error('sync'); });
  const fine = limiter.run(() => Promise.resolve('ok'));
  await assert.rejects(failed, /boom/);
  await assert.rejects(thrown, /sync/);
  assert.equal(await fine, 'ok');
  assert.equal(limiter.running, 0);
});

test('a task aborted while it waits never runs, and the next one takes the slot', async () => {
  const limiter = createLimiter(1);
  const gate = deferred<string>();
  const ran: string[] = [];
  const first = limiter.run(() => { ran.push('first'); return gate.promise; });
  await tick();
  const controller = new AbortController();
  const dropped = limiter.run(() => { ran.push('dropped'); return Promise.resolve('no'); }, { signal: controller.signal });
  const last = limiter.run(() => { ran.push('last'); return Promise.resolve('last'); });
  controller.abort();
  await assert.rejects(dropped);
  assert.equal(limiter.waiting, 1);
  gate.resolve('first');
  assert.equal(await first, 'first');
  assert.equal(await last, 'last');
  assert.deepEqual(ran, ['first', 'last']);
  const already = new AbortController();
  already.abort();
  await assert.rejects(limiter.run(() => Promise.resolve(1), { signal: already.signal }));
  assert.equal(limiter.running, 0);
});

test('lowest priority first, asked together or while others run; ties in order', async () => {
  const limiter = createLimiter(1);
  const gate = deferred<void>();
  const started: string[] = [];
  const task = (name: string, wait?: Promise<void>) => () => { started.push(name); return wait ?? Promise.resolve(); };
  // Asked in one turn: ordered before any starts.
  const all = [
    limiter.run(task('c3', gate.promise), { priority: 3 }),
    limiter.run(task('a0'), { priority: 0 }),
    limiter.run(task('b1'), { priority: 1 }),
  ];
  await tick();
  assert.deepEqual(started, ['a0', 'b1', 'c3']);
  // Asked while one runs: the lowest waits for the slot, then goes first.
  all.push(limiter.run(task('e2'), { priority: 2 }));
  all.push(limiter.run(task('d1'), { priority: 1 }));
  all.push(limiter.run(task('f1'), { priority: 1 }));
  await tick();
  assert.deepEqual(started, ['a0', 'b1', 'c3']);
  gate.resolve();
  await Promise.all(all);
  assert.deepEqual(started, ['a0', 'b1', 'c3', 'd1', 'f1', 'e2']);
});
