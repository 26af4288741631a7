// The projects the caller can read, and the way to the datasets.
import { api, getKey, wasKeyRefused } from '../api';
import { ErrorView, KeyForm, Link, Loading, useAsync } from '../components/common';
import { formatAge } from '../lib/format';
import type { Project } from '../lib/types';
import { paths } from '../lib/url';

export function ProjectsPage(props: { viewer: string | null }) {
  const projects = useAsync<Project[]>((s) => api.projects(s), []);
  const now = Date.now() / 1000;
  return (
    <div class="page">
      <header class="page-head">
        <h1>Projects</h1>
        <p class="hint">
          Signed in as <strong data-testid="viewer">{props.viewer ?? 'visitor'}</strong>
          {props.viewer === null && ': public projects only.'} · <Link href={paths.datasets()}>Datasets</Link>
        </p>
      </header>
      {projects.error ? <ErrorView error={projects.error} what="projects" /> : null}
      {!projects.data && !projects.error && <Loading what="projects" />}
      {projects.data && (
        projects.data.length === 0 ? (
          <p class="empty">No projects{props.viewer === null ? ' are public' : ' yet'}.</p>
        ) : (
          <div class="table-scroll auto">
            <table class="data-table projects-table">
              <thead>
                <tr><th scope="col">project</th><th scope="col">entity</th><th scope="col">visibility</th><th scope="col" class="num">runs</th><th scope="col">last run</th></tr>
              </thead>
              <tbody>
                {projects.data.map((p) => (
                  <tr key={`${p.entity}/${p.project}`} data-testid="project-row">
                    <td><Link href={paths.runs(p.entity, p.project)}>{p.project}</Link></td>
                    <td>{p.entity}</td>
                    <td><span class={`badge vis-${p.visibility}`}>{p.visibility}</span></td>
                    <td class="num">{p.runs}</td>
                    <td>{formatAge(p.last_start_time, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
      {getKey() === null && !wasKeyRefused() && (
        <section class="panel">
          <h2>Sign in</h2>
          <p class="hint">Private projects need an API key (labbook keys create, or the admin's key from labbook serve --init-admin). It is kept in this browser and sent only in a request header.</p>
          <KeyForm />
        </section>
      )}
    </div>
  );
}
