// Turning the server's history series into chart columns.
import { jsonNumber } from './fields';
import type { Series } from './types';

export type XAxis = 'step' | 'time';

export interface Columns {
  xs: number[];
  ys: Array<number | null>;
}

// x is the step or the wall time (Unix seconds). Points without a finite value are gaps; on a
// log axis so are values <= 0. Points are ordered by x (wall times may go backwards a little).
export function seriesColumns(series: Series, x: XAxis, logY = false): Columns {
  const n = series.steps.length;
  const idx: number[] = [];
  const xsRaw: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const xv = x === 'step' ? series.steps[i] : jsonNumber(series.wall_times[i]);
    if (xv === null || !Number.isFinite(xv)) continue;
    xsRaw[i] = xv;
    idx.push(i);
  }
  if (x === 'time') idx.sort((a, b) => xsRaw[a] - xsRaw[b] || a - b);
  const xs: number[] = [];
  const ys: Array<number | null> = [];
  for (const i of idx) {
    const v = jsonNumber(series.values[i]);
    xs.push(xsRaw[i]);
    ys.push(v === null || !Number.isFinite(v) || (logY && v <= 0) ? null : v);
  }
  return { xs, ys };
}

// The step range that the wall-time range [t0, t1] covers in `series`, for asking the server
// for a zoomed window; null when no point falls inside.
export function stepRangeForTimes(series: Series, t0: number, t1: number): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < series.steps.length; i++) {
    const t = jsonNumber(series.wall_times[i]);
    if (t === null || t < t0 || t > t1) continue;
    lo = Math.min(lo, series.steps[i]);
    hi = Math.max(hi, series.steps[i]);
  }
  return lo <= hi ? [lo, hi] : null;
}

// History keys split into the training metrics and the system metrics (`system/...`).
export function splitKeys<T extends { key: string }>(keys: readonly T[]): { metrics: T[]; system: T[] } {
  const metrics: T[] = [];
  const system: T[] = [];
  for (const k of keys) (k.key.startsWith('system/') ? system : metrics).push(k);
  return { metrics, system };
}

// Ten colours that stay apart for the usual colour-vision deficiencies (Okabe-Ito, then Tableau).
export const kPalette = [
  '#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9',
  '#d55e00', '#6a3d9a', '#8c564b', '#7f7f7f', '#bcbd22',
];

// The palette first; past it, hues a golden angle apart at three lightnesses in turn, so that
// every run of a large comparison has a colour of its own (none repeats in the first 360).
export function colorFor(i: number): string {
  if (i < kPalette.length) return kPalette[i];
  const k = i - kPalette.length;
  const hue = ((k * 137.508) % 360).toFixed(1);
  const lightness = [42, 32, 54][k % 3];
  return `hsl(${hue}, 70%, ${lightness}%)`;
}
