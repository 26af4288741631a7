import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignForOverlay, countPoints, joinOnX, minMaxBuckets } from '../src/lib/downsample';

function noisy(n: number, seed = 7): { xs: number[]; ys: number[] } {
  let s = seed;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    xs.push(i);
    ys.push(Math.sin(i / 50) + (s / 2147483647) * 0.1);
  }
  return { xs, ys };
}

test('min/max buckets keep the global maximum and minimum, spikes included', () => {
  const { xs, ys } = noisy(10_000);
  ys[4321] = 50;
  ys[777] = -40;
  const out = minMaxBuckets({ xs, ys }, 100);
  assert.ok(out.xs.length <= 200);
  assert.equal(Math.max(...out.ys), 50);
  assert.equal(Math.min(...out.ys), -40);
  assert.ok(out.xs.includes(4321) && out.xs.includes(777));
});

test('min/max buckets keep the order the points came in', () => {
  const out = minMaxBuckets({ xs: [0, 1, 2, 3], ys: [5, 1, 2, 9] }, 1);
  assert.deepEqual(out, { xs: [1, 3], ys: [1, 9] });
  const out2 = minMaxBuckets({ xs: [0, 1, 2, 3], ys: [9, 1, 2, 0] }, 1);
  assert.deepEqual(out2, { xs: [0, 3], ys: [9, 0] });
  const xs = out.xs.concat(out2.xs);
  assert.ok(xs.every((x, i) => i === 0 || i === 2 || x > xs[i - 1]));
});

test('min/max buckets skip nulls and handle a single point', () => {
  assert.deepEqual(minMaxBuckets({ xs: [0, 1, 2], ys: [null, 3, null] }, 4), { xs: [1], ys: [3] });
  assert.deepEqual(minMaxBuckets({ xs: [5], ys: [2] }, 10), { xs: [5], ys: [2] });
  assert.deepEqual(minMaxBuckets({ xs: [], ys: [] }, 10), { xs: [], ys: [] });
});

test('joinOnX puts series on the union of their x values', () => {
  const t = joinOnX([{ xs: [0, 2], ys: [1, 3] }, { xs: [1, 2], ys: [5, NaN] }]);
  assert.deepEqual(t, [[0, 1, 2], [1, null, 3], [null, 5, null]]);
});

test('an overlay of runs logged at the same steps is exact', () => {
  const a = { xs: [0, 1, 2], ys: [1, 2, 3] };
  const b = { xs: [0, 1, 2], ys: [3, 2, 1] };
  assert.deepEqual(alignForOverlay([a, b], 100), [[0, 1, 2], [1, 2, 3], [3, 2, 1]]);
});

test('a large overlay lands on one grid and keeps each run\'s peaks', () => {
  const a = noisy(20_000, 3);
  const b = { xs: a.xs.map((x) => x * 2 + 1), ys: noisy(20_000, 11).ys };
  a.ys[12_345] = 99;
  b.ys[500] = -77;
  const t = alignForOverlay([a, b], 150);
  assert.equal(t.length, 3);
  assert.equal(t[0].length, 300);
  assert.equal(t[1].length, 300);
  assert.equal(t[2].length, 300);
  const vals = (c: Array<number | null>) => c.filter((v): v is number => v !== null);
  assert.equal(Math.max(...vals(t[1] as Array<number | null>)), 99);
  assert.equal(Math.min(...vals(t[2] as Array<number | null>)), -77);
  // run a covers only the first half of the x range
  assert.ok(countPoints(t[1] as Array<number | null>) < countPoints(t[2] as Array<number | null>));
  const xs = t[0] as number[];
  assert.ok(xs.every((x, i) => i === 0 || x > xs[i - 1]), 'x ascending');
});

test('countPoints counts what is drawn', () => {
  assert.equal(countPoints([1, null, 2, undefined, 0]), 3);
});
