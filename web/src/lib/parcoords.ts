// The axes of a parallel-coordinates plot: numeric config values that differ between runs,
// then the chosen metric. Values map to [0, 1] along each axis; an axis whose positive values
// span more than two decades (learning rates) is logarithmic.
import { flatten, fieldExpr, jsonNumber, getPath, parseFieldExpr, type Json } from './fields';
import type { Run } from './types';

export interface Axis {
  key: string;       // field expression: `config.x` or `summary.y`
  label: string;
  min: number;
  max: number;
  log: boolean;
  values: Array<number | null>;  // one per run
}

export function numericValue(v: Json | undefined): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  const n = jsonNumber(v ?? null);
  return n !== null && Number.isFinite(n) ? n : null;
}

function makeAxis(key: string, label: string, values: Array<number | null>): Axis | null {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return null;
  const min = Math.min(...present);
  const max = Math.max(...present);
  const log = min > 0 && max / min > 100;
  return { key, label, min, max, log, values };
}

export function parcoordsAxes(runs: readonly Run[], metric: string | null): Axis[] {
  const keys = new Set<string>();
  for (const r of runs) for (const [segs, v] of flatten(r.config)) if (numericValue(v) !== null) keys.add(fieldExpr(segs));
  const axes: Axis[] = [];
  for (const k of [...keys].sort()) {
    const segs = parseFieldExpr(k)!;
    const values = runs.map((r) => numericValue(getPath(r.config, segs)));
    const axis = makeAxis('config.' + k, k, values);
    if (axis && axis.min !== axis.max) axes.push(axis);
  }
  if (metric) {
    const segs = parseFieldExpr(metric);
    if (segs && segs[0] === 'summary') {
      const values = runs.map((r) => numericValue(getPath(r.summary, segs.slice(1))));
      const axis = makeAxis(metric, segs.slice(1).join('.'), values);
      if (axis) axes.push(axis);
    }
  }
  return axes;
}

// Where `v` sits on `axis`, 0 at its minimum and 1 at its maximum (0.5 for a constant axis).
export function axisPosition(axis: Axis, v: number): number {
  if (axis.max === axis.min) return 0.5;
  if (axis.log) return (Math.log(v) - Math.log(axis.min)) / (Math.log(axis.max) - Math.log(axis.min));
  return (v - axis.min) / (axis.max - axis.min);
}

// The numeric summary keys of the runs, for the metric picker.
export function numericSummaryKeys(runs: readonly Run[]): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const [segs, v] of flatten(r.summary)) if (numericValue(v) !== null && typeof v !== 'boolean') keys.add(fieldExpr(['summary', ...segs]));
  return [...keys].sort();
}
