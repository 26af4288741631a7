// The columns of the runs table: the fixed run attributes plus config.* and summary.* keys
// discovered from the runs themselves. A column's id is its field expression, which is also
// what the server's `sort` and `filter` take.
import { fieldExpr, flatten, getPath, parseFieldExpr, type Json } from './fields';
import type { Run } from './types';

export const kFixedColumns = ['name', 'state', 'start_time', 'duration', 'tags'] as const;

export interface DiscoveredColumns {
  config: string[];
  summary: string[];
}

// The union of the flattened config and summary keys of `runs`, each list sorted. Arrays are
// single values here (a layer list would otherwise make dozens of columns).
export function discoverColumns(runs: readonly Run[]): DiscoveredColumns {
  const config = new Set<string>();
  const summary = new Set<string>();
  for (const run of runs) {
    for (const [segs] of flatten(run.config)) config.add(fieldExpr(['config', ...segs]));
    for (const [segs] of flatten(run.summary)) summary.add(fieldExpr(['summary', ...segs]));
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { config: [...config].sort(byName), summary: [...summary].sort(byName) };
}

// Without a `columns` parameter: up to three summary metrics, test and validation ones first.
export function defaultColumns(found: DiscoveredColumns, max = 3): string[] {
  const rank = (c: string) => (/test/.test(c) ? 0 : /val/.test(c) ? 1 : 2);
  return [...found.summary].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1)).slice(0, max);
}

export function runDuration(run: Run): number | null {
  if (run.start_time === null) return null;
  const end = run.end_time ?? run.heartbeat_time;
  return end === null ? null : Math.max(0, end - run.start_time);
}

// The value of a column for a run, as JSON (undefined when the run lacks it).
export function columnValue(run: Run, column: string): Json | undefined {
  if (column === 'duration') return runDuration(run);
  const segs = parseFieldExpr(column);
  if (!segs) return undefined;
  const [head, ...rest] = segs;
  if (head === 'config') return getPath(run.config, rest);
  if (head === 'summary') return getPath(run.summary, rest);
  if (rest.length > 0) return undefined;
  return (run as unknown as Record<string, Json>)[head];
}

// A column's header: the key without its `config.`/`summary.` prefix.
export function columnLabel(column: string): string {
  if (column === 'start_time') return 'started';
  const segs = parseFieldExpr(column);
  if (!segs || segs.length < 2) return column;
  return segs.slice(1).join('.');
}

export function columnGroup(column: string): 'config' | 'summary' | 'run' {
  if (column.startsWith('config.')) return 'config';
  if (column.startsWith('summary.')) return 'summary';
  return 'run';
}
