// Differences between the configs of several runs, key by key (nested objects and arrays
// walked down to their leaves).
import { flatten, fieldExpr, type Json, type JsonObject } from './fields';

export interface DiffRow {
  key: string;                       // the path, as a field expression without `config.`
  values: Array<Json | undefined>;   // one per config; undefined where a config lacks the key
  differs: boolean;
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

export function configDiff(configs: readonly JsonObject[]): DiffRow[] {
  const maps = configs.map((c) => {
    const m = new Map<string, Json>();
    for (const [segs, v] of flatten(c, { arrays: 'index' })) m.set(fieldExpr(segs), v);
    return m;
  });
  const keys = new Set<string>();
  for (const m of maps) for (const k of m.keys()) keys.add(k);
  return [...keys].sort().map((key) => {
    const values = maps.map((m) => m.get(key));
    return { key, values, differs: values.some((v) => !same(v, values[0])) };
  });
}
