// Page URLs and their query strings. Every piece of page state that someone may want to share
// (filters, sort, columns, selections, tabs) lives in the URL, so this module is the one place
// that knows the shapes of the paths the server answers with index.html.

export type Route =
  | { page: 'projects' }
  | { page: 'runs'; entity: string; project: string }
  | { page: 'run'; id: string }
  | { page: 'compare' }
  | { page: 'datasets' }
  | { page: 'dataset'; name: string }
  | { page: 'unknown'; path: string };

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// Trailing slashes are ignored; segments are percent-decoded once.
export function matchRoute(pathname: string): Route {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeSegment);
  if (parts.length === 0) return { page: 'projects' };
  const [head, ...rest] = parts;
  if (head === 'projects' && rest.length === 0) return { page: 'projects' };
  if (head === 'projects' && rest.length === 2) {
    return { page: 'runs', entity: rest[0], project: rest[1] };
  }
  if (head === 'runs' && rest.length === 1) return { page: 'run', id: rest[0] };
  if (head === 'compare' && rest.length === 0) return { page: 'compare' };
  if (head === 'datasets' && rest.length === 0) return { page: 'datasets' };
  if (head === 'datasets' && rest.length === 1) return { page: 'dataset', name: rest[0] };
  return { page: 'unknown', path: pathname };
}

export type Params = Record<string, string>;

export function parseQuery(search: string): Params {
  const out: Params = {};
  new URLSearchParams(search.startsWith('?') ? search.slice(1) : search).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

// Builds `path?k=v&...` leaving out empty and undefined values, keys in the order given.
export function buildUrl(path: string, params: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// Lists in a query value are comma-separated; empty items are dropped and duplicates kept once.
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const item of value.split(',')) {
    const t = item.trim();
    if (t && !seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}

export function joinList(items: readonly string[]): string {
  return items.join(',');
}

export const paths = {
  projects: () => '/',
  runs: (entity: string, project: string, params?: Params) =>
    buildUrl(`/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`, params),
  run: (id: string, tab?: string) => buildUrl(`/runs/${encodeURIComponent(id)}`, { tab }),
  compare: (runs: readonly string[], metric?: string) =>
    buildUrl('/compare', { runs: joinList(runs), metric }),
  datasets: () => '/datasets',
  dataset: (name: string, split?: string) =>
    buildUrl(`/datasets/${encodeURIComponent(name)}`, { split }),
};

// `sort` is a field, descending with a leading '-' (the CLI's `--sort`).
export interface SortSpec {
  field: string;
  descending: boolean;
}

export function parseSort(value: string | undefined): SortSpec | null {
  if (!value) return null;
  return value.startsWith('-')
    ? { field: value.slice(1), descending: true }
    : { field: value, descending: false };
}

export function formatSort(sort: SortSpec | null): string {
  if (!sort) return '';
  return (sort.descending ? '-' : '') + sort.field;
}

// A click on a column header: ascending first, then descending, then back to the default order.
export function nextSort(current: SortSpec | null, field: string): SortSpec | null {
  if (!current || current.field !== field) return { field, descending: false };
  if (!current.descending) return { field, descending: true };
  return null;
}
