import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emaSmooth } from '../src/lib/smooth';

const close = (a: Array<number | null>, b: Array<number | null>) => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => {
    if (b[i] === null) assert.equal(v, null, `index ${i}`);
    else assert.ok(v !== null && Math.abs(v - (b[i] as number)) < 1e-9, `index ${i}: ${v} vs ${b[i]}`);
  });
};

test('debiased EMA matches a hand-computed series', () => {
  // weight 0.5: averages 0.5, 1.25, 2.125 over weights 0.5, 0.75, 0.875
  close(emaSmooth([1, 2, 3], 0.5), [1, 1.25 / 0.75, 2.125 / 0.875]);
});

test('the first point is not pulled towards zero', () => {
  close(emaSmooth([10, 10, 10], 0.9), [10, 10, 10]);
});

test('weight 0 leaves the series as it is', () => {
  close(emaSmooth([3, 1, 4, 1, 5], 0), [3, 1, 4, 1, 5]);
});

test('gaps stay gaps and do not move the average', () => {
  close(emaSmooth([1, null, NaN, 2], 0.5), [1, null, null, 1.25 / 0.75]);
  close(emaSmooth([null, 4], 0.5), [null, 4]);
});

test('with x values, a gap of two typical spacings decays twice', () => {
  // xs spacing 1, then a jump of 2: the last point decays by 0.5^2 instead of 0.5
  const acc = 0.875 * 0.25 + 0.75 * 5;
  const norm = 0.875 * 0.25 + 0.75;
  close(emaSmooth([1, 1, 1, 5], 0.5, [0, 1, 2, 4]), [1, 1, 1, acc / norm]);
  // evenly spaced x values give the per-point EMA
  close(emaSmooth([1, 2, 3], 0.5, [0, 10, 20]), emaSmooth([1, 2, 3], 0.5));
});

test('weights above 0.999 are capped so the line still moves', () => {
  const out = emaSmooth([0, 100], 1);
  assert.ok(out[1] !== null && out[1] > 0);
});
