// The runs of one project: a table that sorts and filters on the server (the CLI's language),
// shows chosen config and summary columns, renders only the rows in view, and polls while any
// run is running. Filter, sort, columns and the selection live in the URL.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { ErrorView, Link, Loading, StateBadge, useAsync, useInterval } from '../components/common';
import { columnGroup, columnLabel, columnValue, defaultColumns, discoverColumns, runDuration } from '../lib/columns';
import { formatAge, formatDate, formatDuration, formatValue } from '../lib/format';
import type { Project, Run } from '../lib/types';
import { formatSort, joinList, nextSort, parseSort, paths, splitList, type Params } from '../lib/url';
import { scrollToRow, visibleWindow } from '../lib/vscroll';
import { navigate } from '../router';

const kRowHeight = 36;
const kPollMs = 2500;

function runningFilter(filter: string): string {
  return filter.trim() ? `(${filter}) and state = 'running'` : "state = 'running'";
}

export function RunsPage(props: { entity: string; project: string; query: Params }) {
  const { entity, project, query } = props;
  const filter = query.filter ?? '';
  const sort = parseSort(query.sort);
  const selected = useMemo(() => splitList(query.selected), [query.selected]);

  const setQuery = (patch: Params, replace = true) => {
    navigate(paths.runs(entity, project, { ...query, ...patch }), { replace });
  };

  const info = useAsync<Project>((s) => api.project(entity, project, s), [entity, project]);
  const runsQuery = useAsync<Run[]>(
    (s) => api.runs({ entity, project, filter: filter || undefined, sort: query.sort || undefined }, s),
    [entity, project, filter, query.sort],
  );
  const [runs, setRuns] = useState<Run[] | undefined>(undefined);
  useEffect(() => setRuns(runsQuery.data), [runsQuery.data]);

  // Live: refresh the running runs in place; a run that stops running is fetched once more, a
  // run that appears reloads the list (it must take its place in the server's order).
  const anyRunning = !!runs && runs.some((r) => r.state === 'running');
  const polling = useRef(false);
  useInterval(async () => {
    if (!runs || polling.current) return;
    polling.current = true;
    try {
      const fresh = await api.runs({ entity, project, filter: runningFilter(filter) });
      const byId = new Map(fresh.map((r) => [r.id, r]));
      const known = new Set(runs.map((r) => r.id));
      if (fresh.some((r) => !known.has(r.id))) return runsQuery.reload();
      const stopped = runs.filter((r) => r.state === 'running' && !byId.has(r.id));
      for (const r of await Promise.all(stopped.map((r) => api.run(r.id)))) byId.set(r.id, r);
      setRuns((cur) => cur?.map((r) => byId.get(r.id) ?? r));
    } catch {
      // the next poll tries again; errors of the list itself show on reload
    } finally {
      polling.current = false;
    }
  }, kPollMs, anyRunning);

  const found = useMemo(() => discoverColumns(runs ?? []), [runs]);
  const columns = query.columns !== undefined ? splitList(query.columns) : defaultColumns(found);

  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const filterError = runsQuery.error instanceof ApiError && runsQuery.error.status === 400 ? runsQuery.error : null;

  if (info.error) return <ErrorView error={info.error} what={`project ${entity}/${project}`} />;

  const toggle = (id: string) => {
    const next = selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id];
    setQuery({ selected: joinList(next) });
  };

  return (
    <div class="page runs-page">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <Link href={paths.projects()}>Projects</Link> / <span>{entity}</span> / <strong>{project}</strong>
        {info.data && <span class={`badge vis-${info.data.visibility}`}>{info.data.visibility}</span>}
      </nav>
      <form
        class="filter-bar"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ filter: draft.trim() }, false);
        }}
      >
        <label class="filter-label">
          <span>Filter</span>
          <input
            type="search"
            data-testid="runs-filter"
            placeholder="summary.test.accuracy > 0.9 and config.optimizer.name = 'adam'"
            value={draft}
            aria-invalid={filterError ? 'true' : undefined}
            aria-describedby="filter-help"
            onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Apply</button>
        {filter && (
          <button type="button" onClick={() => setQuery({ filter: '' }, false)}>Clear</button>
        )}
        <ColumnPicker found={found} columns={columns} onChange={(c) => setQuery({ columns: joinList(c) })} />
        <button
          type="button"
          class="primary"
          data-testid="compare-button"
          disabled={selected.length < 2}
          title={selected.length < 2 ? 'Select two or more runs' : undefined}
          onClick={() => navigate(paths.compare(selected))}
        >
          Compare {selected.length > 0 ? `(${selected.length})` : ''}
        </button>
      </form>
      <p id="filter-help" class={filterError ? 'filter-error' : 'hint'} role={filterError ? 'alert' : undefined}>
        {filterError ? filterError.message : 'The language of labbook runs list --filter; press Enter to apply.'}
      </p>
      {runsQuery.error && !filterError ? <ErrorView error={runsQuery.error} what={`the runs of ${entity}/${project}`} /> : null}
      {!runs && !runsQuery.error && <Loading what="runs" />}
      {runs && (
        <RunsTable
          runs={runs}
          columns={columns}
          sort={query.sort}
          selected={selected}
          onToggle={toggle}
          onSelectAll={(all) => setQuery({ selected: all ? joinList(runs.map((r) => r.id)) : '' })}
          onSort={(field) => setQuery({ sort: formatSort(nextSort(sort, field)) }, false)}
          live={anyRunning}
        />
      )}
    </div>
  );
}

function ColumnPicker(props: { found: { config: string[]; summary: string[] }; columns: string[]; onChange: (c: string[]) => void }) {
  const [search, setSearch] = useState('');
  const chosen = new Set(props.columns);
  const match = (c: string) => !search || c.toLowerCase().includes(search.toLowerCase());
  const flip = (c: string) => props.onChange(chosen.has(c) ? props.columns.filter((x) => x !== c) : [...props.columns, c]);
  const group = (title: string, cols: string[]) => (
    <fieldset>
      <legend>{title}</legend>
      {cols.filter(match).map((c) => (
        <label class="check" key={c}>
          <input type="checkbox" checked={chosen.has(c)} onChange={() => flip(c)} />
          {columnLabel(c)}
        </label>
      ))}
      {cols.filter(match).length === 0 && <p class="hint">none</p>}
    </fieldset>
  );
  return (
    <details class="column-picker">
      <summary>Columns ({props.columns.length})</summary>
      <div class="column-menu">
        <input type="search" placeholder="Find a key" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} aria-label="Find a column" />
        {group('summary', props.found.summary)}
        {group('config', props.found.config)}
      </div>
    </details>
  );
}

interface TableProps {
  runs: Run[];
  columns: string[];
  sort: string | undefined;
  selected: string[];
  onToggle: (id: string) => void;
  onSelectAll: (all: boolean) => void;
  onSort: (field: string) => void;
  live: boolean;
}

function RunsTable(props: TableProps) {
  const { runs, columns } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const focusRow = useRef<number | null>(null);
  const sort = parseSort(props.sort);
  const selected = new Set(props.selected);
  const now = Date.now() / 1000;

  useLayoutEffect(() => {
    const el = scroller.current!;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const win = visibleWindow(scrollTop, viewport, kRowHeight, runs.length);

  useLayoutEffect(() => {
    if (focusRow.current === null) return;
    const link = scroller.current?.querySelector<HTMLElement>(`tr[data-index="${focusRow.current}"] a`);
    if (link) {
      link.focus({ preventScroll: true });
      focusRow.current = null;
    }
  });

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const row = (e.target as HTMLElement).closest('tr[data-index]');
    if (!row) return;
    e.preventDefault();
    const i = Number(row.getAttribute('data-index'));
    const target = e.key === 'Home' ? 0 : e.key === 'End' ? runs.length - 1
      : Math.max(0, Math.min(runs.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
    const el = scroller.current!;
    const head = el.querySelector('thead')?.clientHeight ?? 0;
    const top = scrollToRow(target, el.scrollTop, el.clientHeight, kRowHeight, head);
    if (top !== null) el.scrollTop = top;
    const link = el.querySelector<HTMLElement>(`tr[data-index="${target}"] a`);
    if (link) {
      link.focus({ preventScroll: true });
    } else {
      focusRow.current = target;  // rendered after the scroll; focused by the layout effect
      setScrollTop(el.scrollTop);
    }
  };

  const header = (field: string, label: string, cls = '') => {
    const active = sort?.field === field;
    return (
      <th class={cls} scope="col" aria-sort={active ? (sort!.descending ? 'descending' : 'ascending') : 'none'} title={field}>
        <button type="button" class="sort-button" onClick={() => props.onSort(field)}>
          {label}
          <span class="sort-mark" aria-hidden="true">{active ? (sort!.descending ? '▼' : '▲') : ''}</span>
        </button>
      </th>
    );
  };

  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.id));
  return (
    <div class="runs-table-wrap">
      <p class="table-meta">
        {runs.length.toLocaleString('en')} run{runs.length === 1 ? '' : 's'}
        {props.live && <span class="live" title="Running runs refresh every few seconds"> · live</span>}
      </p>
      <div class="table-scroll" ref={scroller} onScroll={(e) => setScrollTop((e.target as HTMLElement).scrollTop)} onKeyDown={onKeyDown}>
        <table class="runs-table" style={{ minWidth: `${560 + columns.length * 130}px` }}>
          <colgroup>
            <col style={{ width: '40px' }} />
            <col style={{ width: '220px' }} />
            <col style={{ width: '96px' }} />
            <col style={{ width: '96px' }} />
            <col style={{ width: '84px' }} />
            <col style={{ width: '120px' }} />
            {columns.map((c) => <col key={c} style={{ width: '130px' }} />)}
          </colgroup>
          <thead>
            <tr>
              <th scope="col" class="check-col">
                <input type="checkbox" aria-label="Select all runs" checked={allSelected} onChange={() => props.onSelectAll(!allSelected)} />
              </th>
              {header('name', 'name')}
              {header('state', 'state')}
              {header('start_time', 'started')}
              {header('duration', 'duration', 'num')}
              {header('tags', 'tags')}
              {columns.map((c) => header(c, columnLabel(c), `num group-${columnGroup(c)}`))}
            </tr>
          </thead>
          <tbody>
            {win.padTop > 0 && <tr class="spacer" style={{ height: `${win.padTop}px` }} aria-hidden="true" />}
            {runs.slice(win.start, win.end).map((run, k) => {
              const i = win.start + k;
              const isSel = selected.has(run.id);
              return (
                <tr key={run.id} data-testid="run-row" data-index={i} data-id={run.id} data-state={run.state} class={isSel ? 'selected' : ''} style={{ height: `${kRowHeight}px` }}>
                  <td class="check-col">
                    <input type="checkbox" checked={isSel} aria-label={`Select ${run.name || run.id}`} onChange={() => props.onToggle(run.id)} />
                  </td>
                  <td class="name-col">
                    <Link href={paths.run(run.id)}>{run.name || run.id}</Link>
                    <span class="run-id">{run.id}</span>
                  </td>
                  <td><StateBadge state={run.state} /></td>
                  <td title={formatDate(run.start_time)}>{formatAge(run.start_time, now)}</td>
                  <td class="num">{formatDuration(runDuration(run))}</td>
                  <td class="tags">{run.tags.join(', ')}</td>
                  {columns.map((c) => {
                    const text = formatValue(columnValue(run, c));
                    return <td key={c} class="num" title={text}>{text}</td>;
                  })}
                </tr>
              );
            })}
            {win.padBottom > 0 && <tr class="spacer" style={{ height: `${win.padBottom}px` }} aria-hidden="true" />}
          </tbody>
        </table>
        {runs.length === 0 && <p class="empty">No runs match.</p>}
      </div>
    </div>
  );
}
