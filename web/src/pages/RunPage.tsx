// One run: its fields, summary and config, a chart per history metric, the system metrics, the
// artifacts it produced and used, and the evaluation of its predictions. A running run is
// polled every few seconds; its charts refetch at each poll.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, artifactFilePath, downloadFile } from '../api';
import { ErrorView, Link, Loading, Section, StateBadge, useAsync, useInterval } from '../components/common';
import { ChartControls, MetricChart, type ChartSettings, type StepZoom } from '../components/MetricChart';
import { EvaluationView } from '../components/Evaluation';
import { runDuration } from '../lib/columns';
import { fieldExpr, flatten, type JsonObject } from '../lib/fields';
import { formatBytes, formatDate, formatDuration, formatValue } from '../lib/format';
import { splitKeys } from '../lib/series';
import type { Artifact, KeyInfo, Run } from '../lib/types';
import { buildUrl, paths, type Params } from '../lib/url';
import { navigate } from '../router';

// The overview holds what most visits are for: summary, config, the metrics and the evaluation.
const kTabs = [
  ['overview', 'Overview'],
  ['system', 'System'],
  ['artifacts', 'Artifacts'],
] as const;
type Tab = (typeof kTabs)[number][0];
const kPollMs = 3000;

export function settingsFromQuery(q: Params): ChartSettings {
  const smoothing = Number(q.smooth ?? '0');
  return {
    smoothing: Number.isFinite(smoothing) ? Math.min(0.99, Math.max(0, smoothing)) : 0,
    x: q.x === 'time' ? 'time' : 'step',
    logY: q.log === '1',
  };
}

export function settingsToQuery(s: ChartSettings): Params {
  return { smooth: s.smoothing > 0 ? String(s.smoothing) : '', x: s.x === 'time' ? 'time' : '', log: s.logY ? '1' : '' };
}

export function RunPage(props: { id: string; query: Params }) {
  const { id, query } = props;
  const tab: Tab = (kTabs.find(([t]) => t === query.tab)?.[0]) ?? 'overview';
  const runQ = useAsync<Run>((s) => api.run(id, s), [id]);
  const run = runQ.data;
  const running = run?.state === 'running';
  const [tick, setTick] = useState(0);
  // Reloaded in place while the run runs, so the charts stay mounted and keep their data.
  const keysQ = useAsync<KeyInfo[]>((s) => api.keys(id, s), [id]);
  // A refresh still in flight on a slow connection is let finish, not replaced by the next.
  useInterval(() => {
    if (runQ.loading || keysQ.loading) return;
    runQ.reload();
    keysQ.reload();
    setTick((t) => t + 1);
  }, kPollMs, running);
  const keys = useMemo(() => splitKeys(keysQ.data ?? []), [keysQ.data]);
  const settings = settingsFromQuery(query);
  const setSettings = (s: ChartSettings) =>
    navigate(buildUrl(`/runs/${encodeURIComponent(id)}`, { ...query, ...settingsToQuery(s) }), { replace: true });

  if (runQ.error && !run) return <ErrorView error={runQ.error} what={`run ${id}`} />;
  if (!run) return <Loading what="the run" />;

  const tabHref = (t: Tab) => buildUrl(`/runs/${encodeURIComponent(id)}`, { ...query, tab: t === 'overview' ? '' : t });
  return (
    <div class="page run-page">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <Link href={paths.projects()}>Projects</Link> / <span>{run.entity}</span> /{' '}
        <Link href={paths.runs(run.entity, run.project)}>{run.project}</Link> / <strong>{run.name || run.id}</strong>
      </nav>
      <header class="page-head row">
        <h1>{run.name || run.id} <StateBadge state={run.state} /></h1>
        <dl class="facts compact">
          <div><dt>id</dt><dd><code>{run.id}</code></dd></div>
          <div><dt>started</dt><dd>{formatDate(run.start_time)}</dd></div>
          <div><dt>duration</dt><dd>{formatDuration(runDuration(run))}</dd></div>
          {run.host && <div><dt>host</dt><dd>{run.host}</dd></div>}
          {run.exit_code !== null && <div><dt>exit code</dt><dd>{run.exit_code}</dd></div>}
          {run.git_commit && <div><dt>commit</dt><dd><code>{run.git_commit.slice(0, 10)}</code></dd></div>}
          {run.tags.length > 0 && <div><dt>tags</dt><dd>{run.tags.join(', ')}</dd></div>}
        </dl>
      </header>
      {run.notes && <p class="notes">{run.notes}</p>}
      <nav class="tabs" aria-label="Run sections">
        {kTabs.map(([t, label]) => (
          <Link key={t} href={tabHref(t)} class={t === tab ? 'active' : ''} aria-current={t === tab ? 'page' : undefined} data-testid={`tab-${t}`}>
            {label}{t === 'system' && keys.system.length ? ` (${keys.system.length})` : ''}
          </Link>
        ))}
      </nav>
      {tab === 'overview' && (
        <>
          <div class="grid-2">
            <Section title="Summary"><KeyValueTable value={run.summary} testid="summary-table" /></Section>
            <Section title="Config"><KeyValueTable value={run.config} testid="config-table" /></Section>
          </div>
          <Section title="Metrics" actions={<ChartControls settings={settings} onChange={setSettings} />}>
            <ChartGrid runId={id} keys={keys.metrics} settings={settings} tick={tick} loading={!keysQ.data} empty="No metrics logged yet." />
          </Section>
          <h2 class="section-title" id="evaluation">Evaluation</h2>
          <EvaluationIfAny runId={id} run={run} />
        </>
      )}
      {tab === 'system' && (
        <Section title="System metrics" actions={<ChartControls settings={settings} onChange={setSettings} />}>
          <ChartGrid runId={id} keys={keys.system} settings={settings} tick={tick} loading={!keysQ.data} empty="No system metrics (keys starting with system/)." />
        </Section>
      )}
      {tab === 'artifacts' && <ArtifactsView runId={id} />}
    </div>
  );
}

// Asks for the evaluation only when the run produced a predictions artifact, so that a run
// without one costs no 404 (which the browser would log as an error).
function EvaluationIfAny(props: { runId: string; run: Run }) {
  const q = useAsync((s) => api.artifacts(props.runId, s), [props.runId, props.run.state]);
  if (q.error) return <ErrorView error={q.error} what="artifacts" />;
  if (!q.data) return <Loading what="artifacts" />;
  const has = q.data.produced.some((a) => a.type === 'predictions' || a.files.some((f) => f.path === 'predictions.csv'));
  if (!has) {
    return (
      <p class="empty" data-testid="no-evaluation">
        No predictions artifact{props.run.state === 'running' ? ' yet: labbook train logs one when training ends.' : ': nothing to evaluate.'}
      </p>
    );
  }
  return <EvaluationView runId={props.runId} run={props.run} />;
}

function ChartGrid(props: { runId: string; keys: KeyInfo[]; settings: ChartSettings; tick: number; loading: boolean; empty: string }) {
  const [zoom, setZoom] = useState<StepZoom>(null);
  if (props.loading) return <Loading what="metrics" />;
  if (props.keys.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="chart-grid">
      {props.keys.map((k) => (
        <MetricChart key={k.key} runId={props.runId} metric={k.key} settings={props.settings} tick={props.tick} zoom={zoom} setZoom={setZoom} />
      ))}
    </div>
  );
}

export function KeyValueTable(props: { value: JsonObject; testid?: string }) {
  const rows = flatten(props.value, { arrays: 'index' });
  if (rows.length === 0) return <p class="empty">Empty.</p>;
  return (
    <div class="kv-scroll">
      <table class="data-table kv" data-testid={props.testid}>
        <tbody>
          {rows.map(([segs, v]) => {
            const k = fieldExpr(segs);
            return (
              <tr key={k}><th scope="row">{k}</th><td class="num">{formatValue(v)}</td></tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function ArtifactsView(props: { runId: string }) {
  const q = useAsync((s) => api.artifacts(props.runId, s), [props.runId]);
  if (q.error) return <ErrorView error={q.error} what="artifacts" />;
  if (!q.data) return <Loading what="artifacts" />;
  return (
    <>
      <Section title="Produced"><ArtifactList artifacts={q.data.produced} /></Section>
      <Section title="Used"><ArtifactList artifacts={q.data.used} /></Section>
    </>
  );
}

function ArtifactList(props: { artifacts: Artifact[] }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setError(null), [props.artifacts]);
  if (props.artifacts.length === 0) return <p class="empty">None.</p>;
  return (
    <div class="artifacts">
      {error && <p class="error-text" role="alert">{error}</p>}
      {props.artifacts.map((a) => (
        <article class="artifact" key={`${a.name}:${a.version}`} data-testid="artifact">
          <h3>
            {a.name}:v{a.version} <span class="badge">{a.type}</span>
            {a.aliases.map((al) => <span key={al} class="badge alias">{al}</span>)}
          </h3>
          <p class="hint">{a.entity}/{a.project} · {formatDate(a.created_time)} · digest <code>{a.digest.slice(0, 12)}</code></p>
          <table class="data-table">
            <tbody>
              {a.files.map((f) => (
                <tr key={f.path}>
                  <td><code>{f.path}</code></td>
                  <td class="num">{formatBytes(f.size)}</td>
                  <td>
                    <button
                      type="button"
                      data-testid="artifact-download"
                      onClick={() => downloadFile(artifactFilePath(a, f.path), f.path.split('/').pop() || f.path).catch((e) => setError(`${f.path}: ${e.message}`))}
                    >
                      Download
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </article>
      ))}
    </div>
  );
}
