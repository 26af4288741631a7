// How numbers, times and JSON values are written in tables.
import { jsonNumber, type Json } from './fields';

export function formatNumber(v: number, digits = 4): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
    return v.toExponential(digits - 1).replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  return String(Number(v.toPrecision(digits)));
}

export function formatValue(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  const n = jsonNumber(v);
  if (n !== null) return formatNumber(n);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// `now` and `t` in Unix seconds.
export function formatAge(t: number | null, now: number): string {
  if (t === null) return '';
  const d = now - t;
  if (d < 0) return 'just now';
  if (d < 60) return `${Math.floor(d)}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

export function formatDate(t: number | null): string {
  if (t === null) return '';
  return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// Axis tick labels: as many decimals as the spacing of the ticks needs, so that neighbouring
// ticks never read the same (146.5 and 147 rather than 147 and 147). Null ticks stay blank.
export function formatTicks(vals: ReadonlyArray<number | null | undefined>): string[] {
  const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  let step = Infinity;
  for (let i = 1; i < nums.length; i++) {
    const d = Math.abs(nums[i] - nums[i - 1]);
    if (d > 0) step = Math.min(step, d);
  }
  const maxAbs = Math.max(0, ...nums.map(Math.abs));
  return vals.map((v) => {
    if (typeof v !== 'number') return '';
    if (!Number.isFinite(step)) return formatNumber(v, 3);
    if (maxAbs >= 1e6 || (maxAbs > 0 && maxAbs < 1e-3)) {
      const digits = Math.max(0, Math.floor(Math.log10(maxAbs)) - Math.floor(Math.log10(step) + 1e-9));
      return v === 0 ? '0' : v.toExponential(Math.min(digits, 10)).replace('e+', 'e');
    }
    const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
    return v.toFixed(decimals);
  });
}
