// The REST API client (docs/api.md). Same origin; the key lives in localStorage and travels
// only in the Authorization header, never in a URL. A 401 to a request that carried a key
// means the key is wrong or revoked: it is forgotten and the page asks for another.
import type {
  Artifact, DatasetInfo, DatasetStats, Evaluation, KeyInfo, Project, Run, Series, Viewer,
} from './lib/types';
import { createLimiter } from './lib/limiter';
import { buildUrl } from './lib/url';

const kKeyItem = 'labbook.key';
// Reads of many runs' series, two at a time in the order the charts asked (top first): the
// server answers each in tens of milliseconds, and ten at once would make the first chart wait
// for all ten.
const historyReads = createLimiter(2);

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly route: string) {
    super(message);
  }
}

type Listener = () => void;
const listeners = new Set<Listener>();
let keyRefused = false;

export function getKey(): string | null {
  try {
    return localStorage.getItem(kKeyItem);
  } catch {
    return null;
  }
}

export function setKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(kKeyItem, key);
    else localStorage.removeItem(kKeyItem);
  } catch {
    // storage disabled: the key lasts for this page only
  }
  keyRefused = false;
  listeners.forEach((l) => l());
}

// True after the server refused the stored key (it has been cleared).
export function wasKeyRefused(): boolean {
  return keyRefused;
}

// Called when the key changes (signed in, signed out, refused).
export function onKeyChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const key = getKey();
  const headers = new Headers(init.headers);
  if (key) headers.set('Authorization', `Bearer ${key}`);
  const res = await fetch(path, { ...init, headers });
  if (res.ok) return res;
  let code = 'http_' + res.status;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // not a JSON error body
  }
  if (res.status === 401 && key) {
    try {
      localStorage.removeItem(kKeyItem);
    } catch {
      // nothing stored
    }
    keyRefused = true;
    listeners.forEach((l) => l());
  }
  throw new ApiError(res.status, code, message, path.split('?')[0]);
}

async function json<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, { signal, headers: { Accept: 'application/json' } });
  return (await res.json()) as T;
}

const enc = encodeURIComponent;
const v1 = '/api/v1';

export interface RunQuery {
  entity: string;
  project: string;
  filter?: string;
  sort?: string;
  limit?: number;
}

export interface HistoryQuery {
  key: string;
  samples?: number;
  min_step?: number;
  max_step?: number;
}

export const api = {
  viewer: (s?: AbortSignal) => json<Viewer>(`${v1}/viewer`, s),
  projects: (s?: AbortSignal) => json<{ projects: Project[] }>(`${v1}/projects`, s).then((r) => r.projects),
  project: (entity: string, project: string, s?: AbortSignal) =>
    json<{ project: Project }>(`${v1}/projects/${enc(entity)}/${enc(project)}`, s).then((r) => r.project),
  runs: (q: RunQuery, s?: AbortSignal) =>
    json<{ runs: Run[] }>(buildUrl(`${v1}/runs`, { ...q }), s).then((r) => r.runs),
  run: (id: string, s?: AbortSignal) => json<{ run: Run }>(`${v1}/runs/${enc(id)}`, s).then((r) => r.run),
  keys: (id: string, s?: AbortSignal) =>
    json<{ keys: KeyInfo[] }>(`${v1}/runs/${enc(id)}/keys`, s).then((r) => r.keys),
  history: (id: string, q: HistoryQuery, s?: AbortSignal) =>
    json<{ series: Series }>(buildUrl(`${v1}/runs/${enc(id)}/history`, { ...q }), s).then((r) => r.series),
  // Runs and the keys each logged, one request per 200 runs (GET /compare), in the order of `ids`.
  compare: async (ids: string[], s?: AbortSignal): Promise<Array<{ run: Run; keys: KeyInfo[] }>> => {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
    const answers = await Promise.all(chunks.map((chunk) =>
      json<{ runs: Array<{ run: Run; keys: KeyInfo[] }> }>(
        buildUrl(`${v1}/compare`, { runs: chunk.join(',') }), s)));
    return answers.flatMap((answer) => answer.runs);
  },
  // One key of several runs in one request per 200 runs (GET /history), in the order of `ids`.
  // `priority`: lower is read first (the chart's place on the page).
  histories: async (ids: string[], q: HistoryQuery, s?: AbortSignal, priority = 0): Promise<Series[]> => {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
    const answers = await Promise.all(chunks.map((chunk) => historyReads.run(() =>
      json<{ series: Array<{ run: string; series: Series }> }>(
        buildUrl(`${v1}/history`, { ...q, runs: chunk.join(',') }), s), { signal: s, priority })));
    return answers.flatMap((answer) => answer.series.map((entry) => entry.series));
  },
  artifacts: (id: string, s?: AbortSignal) =>
    json<{ produced: Artifact[]; used: Artifact[] }>(`${v1}/runs/${enc(id)}/artifacts`, s),
  evaluation: (id: string, s?: AbortSignal) =>
    json<{ evaluation: Evaluation }>(
      buildUrl(`${v1}/runs/${enc(id)}/evaluation`, { curve_points: 200, misclassified: 100 }), s,
    ).then((r) => r.evaluation),
  datasets: (s?: AbortSignal) =>
    json<{ datasets: DatasetInfo[] }>(`${v1}/datasets`, s).then((r) => r.datasets),
  datasetStats: (name: string, split: string, s?: AbortSignal) =>
    json<{ stats: DatasetStats }>(buildUrl(`${v1}/datasets/${enc(name)}/stats`, { split }), s).then((r) => r.stats),
};

// The route of an artifact file's bytes.
export function artifactFilePath(a: { entity: string; project: string; name: string; version: number | string }, file: string): string {
  const version = typeof a.version === 'number' ? `v${a.version}` : a.version;
  const filePath = file.split('/').map(enc).join('/');
  return `${v1}/artifacts/${enc(a.entity)}/${enc(a.project)}/${enc(a.name)}/${enc(version)}/files/${filePath}`;
}

export function datasetImagePath(name: string, split: string, index: number, scale = 1): string {
  return buildUrl(`${v1}/datasets/${enc(name)}/${enc(split)}/images/${index}`, { scale: scale === 1 ? undefined : scale });
}

export async function fetchText(path: string, signal?: AbortSignal): Promise<string> {
  return (await request(path, { signal })).text();
}

export async function fetchBlob(path: string, signal?: AbortSignal): Promise<Blob> {
  return (await request(path, { signal })).blob();
}

// Saves a response as a file: fetched with the key header, handed to the browser as a blob URL.
export async function downloadFile(path: string, filename: string): Promise<void> {
  saveBlob(await fetchBlob(path), filename);
}

export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
