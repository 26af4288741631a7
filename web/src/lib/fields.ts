// Field expressions of the filter and sort language (docs/tracking.md): `config.<path>`,
// `summary.<path>` and the run attributes. A path segment holding characters other than
// letters, digits, '_', '/', '-' (or non-ASCII) is written in backquotes.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

function isKeyChar(c: string): boolean {
  return /[A-Za-z0-9_\/-]/.test(c) || c.charCodeAt(0) >= 0x80;
}

export function quoteSegment(segment: string): string {
  if (segment.length > 0 && [...segment].every(isKeyChar)) return segment;
  return '`' + segment + '`';
}

export function fieldExpr(segments: readonly string[]): string {
  return segments.map(quoteSegment).join('.');
}

// The inverse of fieldExpr; null when the expression is malformed (an unclosed backquote, an
// empty segment).
export function parseFieldExpr(expr: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i <= expr.length) {
    if (expr[i] === '`') {
      const close = expr.indexOf('`', i + 1);
      if (close < 0) return null;
      out.push(expr.slice(i + 1, close));
      i = close + 1;
    } else {
      let j = i;
      while (j < expr.length && expr[j] !== '.') j++;
      if (j === i) return null;
      out.push(expr.slice(i, j));
      i = j;
    }
    if (i === expr.length) return out;
    if (expr[i] !== '.') return null;
    i++;
    if (i === expr.length) return null;
  }
  return out;
}

// Walks `segments` into a JSON value: objects by key, arrays by index. Undefined when missing.
export function getPath(value: Json | undefined, segments: readonly string[]): Json | undefined {
  let cur: Json | undefined = value;
  for (const s of segments) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(s)) return undefined;
      cur = cur[Number(s)];
    } else {
      cur = cur[s];
    }
  }
  return cur;
}

export interface FlattenOptions {
  // 'leaf': an array is one value; 'index': its elements are walked as `path.0`, `path.1`, ...
  arrays: 'leaf' | 'index';
}

// Flattens nested objects into [segments, leaf] pairs in key order. An empty object is a leaf.
export function flatten(
  value: Json,
  options: FlattenOptions = { arrays: 'leaf' },
  prefix: string[] = [],
  out: Array<[string[], Json]> = [],
): Array<[string[], Json]> {
  const walkable =
    value !== null &&
    typeof value === 'object' &&
    (Array.isArray(value) ? options.arrays === 'index' && value.length > 0 : Object.keys(value).length > 0);
  if (!walkable) {
    if (prefix.length > 0) out.push([prefix, value]);
    return out;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(v, options, [...prefix, String(i)], out));
  } else {
    for (const [k, v] of Object.entries(value as JsonObject)) flatten(v, options, [...prefix, k], out);
  }
  return out;
}

// Numbers JSON cannot hold travel as these strings (docs/api.md).
export function jsonNumber(v: Json | undefined): number | null {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return null;
}
