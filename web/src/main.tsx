// The dashboard: a header (who is signed in), and the page the URL names.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, getKey, onKeyChange, setKey, wasKeyRefused } from './api';
import { clearImageCache } from './components/AuthImage';
import { KeyForm, Link, useAsync } from './components/common';
import { matchRoute, paths } from './lib/url';
import type { Viewer } from './lib/types';
import { ComparePage } from './pages/ComparePage';
import { DatasetPage, DatasetsPage } from './pages/DatasetPage';
import { ProjectsPage } from './pages/ProjectsPage';
import { RunPage } from './pages/RunPage';
import { RunsPage } from './pages/RunsPage';
import { useLocation } from './router';

function useKeyVersion(): number {
  const [v, setV] = useState(0);
  useEffect(() => onKeyChange(() => {
    clearImageCache();
    setV((x) => x + 1);
  }), []);
  return v;
}

function App() {
  const loc = useLocation();
  const keyVersion = useKeyVersion();
  const hasKey = getKey() !== null;
  // Asked with or without a key: `labbook ui` lets everyone in as its local user.
  const viewer = useAsync<Viewer | null>((s) => api.viewer(s), [keyVersion]);
  const [signingIn, setSigningIn] = useState(false);
  const route = matchRoute(loc.pathname);
  const name = viewer.data?.user ?? null;

  useEffect(() => {
    const titles: Record<string, string> = {
      projects: 'Projects', runs: 'Runs', run: 'Run', compare: 'Compare', datasets: 'Datasets', dataset: 'Dataset', unknown: 'Not found',
    };
    const detail = route.page === 'runs' ? `${route.entity}/${route.project}` : route.page === 'run' ? route.id : route.page === 'dataset' ? route.name : '';
    document.title = `${titles[route.page]}${detail ? ` ${detail}` : ''} · labbook`;
  }, [loc.pathname]);

  let page;
  switch (route.page) {
    case 'projects': page = <ProjectsPage viewer={name} />; break;
    case 'runs': page = <RunsPage entity={route.entity} project={route.project} query={loc.query} />; break;
    case 'run': page = <RunPage id={route.id} query={loc.query} />; break;
    case 'compare': page = <ComparePage query={loc.query} />; break;
    case 'datasets': page = <DatasetsPage />; break;
    case 'dataset': page = <DatasetPage name={route.name} query={loc.query} />; break;
    default:
      page = (
        <div class="page notice" data-testid="not-found">
          <h1>No such page</h1>
          <p><code>{route.path}</code> is not a page of the dashboard. <Link href={paths.projects()}>Projects</Link></p>
        </div>
      );
  }

  return (
    <>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="top-bar">
        <Link href={paths.projects()} class="brand">labbook</Link>
        <nav aria-label="Main">
          <Link href={paths.projects()} aria-current={route.page === 'projects' ? 'page' : undefined}>Projects</Link>
          <Link href={paths.datasets()} aria-current={route.page === 'datasets' || route.page === 'dataset' ? 'page' : undefined}>Datasets</Link>
        </nav>
        <div class="who">
          {hasKey ? (
            <>
              <span class="user" title={viewer.data?.admin ? 'server admin' : undefined}>{name ?? '…'}</span>
              <button type="button" class="link-button" onClick={() => setKey(null)}>Sign out</button>
            </>
          ) : name ? (
            <span class="user" title="this server lets everyone in without a key">{name}</span>
          ) : viewer.loading && !viewer.data ? (
            <span class="user" aria-busy="true">…</span>
          ) : (
            <>
              <span class="user">visitor</span>
              <button type="button" class="link-button" aria-expanded={signingIn} onClick={() => setSigningIn(!signingIn)}>Sign in</button>
            </>
          )}
        </div>
      </header>
      {!hasKey && (signingIn || wasKeyRefused()) && (
        <div class="sign-in-bar">
          {wasKeyRefused() && <p role="alert">The server refused the stored API key; it has been forgotten. Enter another to go on.</p>}
          <KeyForm onDone={() => setSigningIn(false)} />
        </div>
      )}
      <main id="main" tabIndex={-1} key={keyVersion}>{page}</main>
    </>
  );
}

// An icon of our own, so the browser does not ask the server for /favicon.ico (a 404 in the log).
function setIcon(): void {
  if (document.querySelector('link[rel="icon"]')) return;
  const link = document.createElement('link');
  link.rel = 'icon';
  link.href = 'data:image/svg+xml,' + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0a5fa8"/>' +
    '<path d="M3 12 L6 7 L9 9 L13 4" stroke="#fff" stroke-width="1.8" fill="none"/></svg>');
  document.head.appendChild(link);
}

setIcon();
render(<App />, document.getElementById('app')!);
