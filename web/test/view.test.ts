import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrollToRow, visibleWindow } from '../src/lib/vscroll';
import { axisPosition, numericSummaryKeys, parcoordsAxes } from '../src/lib/parcoords';
import { seriesColumns, splitKeys, stepRangeForTimes } from '../src/lib/series';
import { formatDuration, formatNumber, formatTicks } from '../src/lib/format';
import type { Run, Series } from '../src/lib/types';

test('virtual scroll renders the rows in view plus overscan', () => {
  assert.deepEqual(visibleWindow(0, 360, 36, 10_000, 5), { start: 0, end: 15, padTop: 0, padBottom: (10_000 - 15) * 36 });
  const mid = visibleWindow(36 * 5000 + 10, 360, 36, 10_000, 5);
  assert.equal(mid.start, 4995);
  assert.equal(mid.end, 5016);
  assert.equal(mid.padTop + (mid.end - mid.start) * 36 + mid.padBottom, 360_000);
  const end = visibleWindow(1e9, 360, 36, 10_000, 5);
  assert.equal(end.end, 10_000);
  assert.ok(end.start >= 10_000 - 16);
  assert.equal(end.padBottom, 0);
  assert.deepEqual(visibleWindow(0, 500, 36, 0), { start: 0, end: 0, padTop: 0, padBottom: 0 });
  assert.deepEqual(visibleWindow(0, 500, 36, 3, 8), { start: 0, end: 3, padTop: 0, padBottom: 0 });
});

test('scrollToRow brings a row into view only when needed', () => {
  assert.equal(scrollToRow(0, 100, 360, 36), 0);
  assert.equal(scrollToRow(5, 100, 360, 36), null);
  assert.equal(scrollToRow(20, 0, 360, 36, 36), 21 * 36 - 360 + 36);
});

function run(id: string, config: Run['config'], summary: Run['summary']): Run {
  return {
    id, entity: 'e', project: 'p', name: id, group: '', tags: [], notes: '', state: 'finished', config, summary,
    host: '', pid: 0, git_commit: '', start_time: 0, heartbeat_time: 0, end_time: 0, exit_code: null,
  };
}

test('parallel coordinates: varying numeric config values, then the metric', () => {
  const runs = [
    run('a', { lr: 0.0001, bs: 32, seed: 1, opt: 'adam' }, { 'test/acc': 0.8 }),
    run('b', { lr: 0.1, bs: 64, seed: 1, opt: 'sgd' }, { 'test/acc': 0.9 }),
  ];
  const axes = parcoordsAxes(runs, 'summary.test/acc');
  assert.deepEqual(axes.map((a) => a.key), ['config.bs', 'config.lr', 'summary.test/acc']);
  const lr = axes[1];
  assert.equal(lr.log, true);
  assert.ok(Math.abs(axisPosition(lr, 0.0001)) < 1e-12);
  assert.ok(Math.abs(axisPosition(lr, 0.1) - 1) < 1e-12);
  assert.ok(Math.abs(axisPosition(lr, 0.01) - 2 / 3) < 1e-9);
  assert.equal(axes[0].log, false);
  assert.equal(axisPosition(axes[0], 48), 0.5);
  assert.deepEqual(numericSummaryKeys(runs), ['summary.test/acc']);
});

const series: Series = {
  key: 'loss', steps: [1, 2, 3, 4], values: [0.5, 'NaN', -1, 2], wall_times: [10, 12, 11, 13],
  points_in_range: 4, downsampled: false,
};

test('series columns: gaps for non-finite values, and for <= 0 on a log axis', () => {
  assert.deepEqual(seriesColumns(series, 'step'), { xs: [1, 2, 3, 4], ys: [0.5, null, -1, 2] });
  assert.deepEqual(seriesColumns(series, 'step', true), { xs: [1, 2, 3, 4], ys: [0.5, null, null, 2] });
  assert.deepEqual(seriesColumns(series, 'time'), { xs: [10, 11, 12, 13], ys: [0.5, -1, null, 2] });
  assert.deepEqual(stepRangeForTimes(series, 10.5, 12.5), [2, 3]);
  assert.equal(stepRangeForTimes(series, 20, 30), null);
});

test('system metrics are the keys under system/', () => {
  const { metrics, system } = splitKeys([{ key: 'loss' }, { key: 'system/cpu' }, { key: 'systems' }]);
  assert.deepEqual(metrics.map((k) => k.key), ['loss', 'systems']);
  assert.deepEqual(system.map((k) => k.key), ['system/cpu']);
});

test('numbers and durations as tables show them', () => {
  assert.equal(formatNumber(0.123456), '0.1235');
  assert.equal(formatNumber(42), '42');
  assert.equal(formatNumber(0.0005), '5e-4');
  assert.equal(formatNumber(0.00012346), '1.235e-4');
  assert.equal(formatNumber(NaN), 'NaN');
  assert.equal(formatNumber(-Infinity), '−∞');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(3725), '1h 2m');
});

test('tick labels keep neighbouring ticks apart', () => {
  assert.deepEqual(formatTicks([146, 146.5, 147, 147.5]), ['146.0', '146.5', '147.0', '147.5']);
  assert.deepEqual(formatTicks([0, 50, 100]), ['0', '50', '100']);
  assert.deepEqual(formatTicks([0.001, 0.0015, 0.002]), ['0.0010', '0.0015', '0.0020']);
  assert.deepEqual(formatTicks([null, 2e6, 4e6]), ['', '2e6', '4e6']);
  assert.deepEqual(formatTicks([7]), ['7']);
});
