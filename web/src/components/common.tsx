// Small pieces every page uses: links that navigate without a reload, async data, the key form,
// error and not-found messages, state badges.
import type { AnchorHTMLAttributes, ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getKey, setKey, wasKeyRefused } from '../api';
import { isPlainClick, navigate } from '../router';
import type { RunState } from '../lib/types';

type AnchorProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string };

export function Link(props: AnchorProps) {
  const { href, onClick, ...rest } = props;
  return (
    <a
      href={href}
      onClick={(e) => {
        if (onClick) (onClick as (e: MouseEvent) => void)(e);
        if (!isPlainClick(e)) return;
        e.preventDefault();
        navigate(href);
      }}
      {...rest}
    />
  );
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

// Runs `load` when `deps` change (aborting the previous call) and on reload(). The previous
// data stays shown while a reload is under way, so polling does not flicker.
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined, error: undefined, loading: true,
  });
  const [tick, setTick] = useState(0);
  const depsKey = useRef<unknown[]>(deps);
  const sameDeps = deps.length === depsKey.current.length && deps.every((d, i) => Object.is(d, depsKey.current[i]));
  if (!sameDeps) depsKey.current = deps;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ data: sameDeps ? s.data : undefined, error: undefined, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error) => !ctl.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

// Calls `fn` every `ms` while `active`; not while the tab is hidden.
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => {
      if (document.visibilityState !== 'hidden') saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

export function KeyForm(props: { prompt?: string; onDone?: () => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="key-form"
      data-testid="key-form"
      onSubmit={(e) => {
        e.preventDefault();
        const key = value.trim();
        if (!key) return;
        setKey(key);
        setValue('');
        props.onDone?.();
      }}
    >
      <label>
        <span>{props.prompt ?? 'API key'}</span>
        <input
          type="password"
          autocomplete="current-password"
          placeholder="lb-…"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Sign in</button>
    </form>
  );
}

export function NotFound(props: { what: string }) {
  const signedIn = getKey() !== null;
  return (
    <section class="notice" data-testid="not-found">
      <h2>{props.what}: not found, or private</h2>
      {signedIn ? (
        <p>Your key cannot read it. It may not exist, or it may be private to a team you are not in.</p>
      ) : (
        <>
          <p>Not found, or private: sign in with an API key.</p>
          <KeyForm />
        </>
      )}
    </section>
  );
}

// An error from the API shown where the data would be. A 404 gets the not-found message; a
// 401 the key form (the refused key has already been cleared).
export function ErrorView(props: { error: unknown; what: string }) {
  const e = props.error;
  if (e instanceof ApiError && e.status === 404) return <NotFound what={props.what} />;
  if (e instanceof ApiError && e.status === 401) {
    return (
      <section class="notice" role="alert">
        <h2>{wasKeyRefused() ? 'Your API key was refused' : 'An API key is needed'}</h2>
        <p>{e.message}</p>
        <KeyForm />
      </section>
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  return (
    <section class="notice error" role="alert">
      <h2>Could not load {props.what}</h2>
      <p>{message}</p>
    </section>
  );
}

export function Loading(props: { what?: string }) {
  return <p class="loading" aria-live="polite">Loading{props.what ? ` ${props.what}` : ''}…</p>;
}

export function StateBadge(props: { state: RunState }) {
  return <span class={`badge state-${props.state}`}>{props.state}</span>;
}

export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="panel" id={props.id}>
      <header class="panel-head">
        <h2>{props.title}</h2>
        {props.actions && <div class="panel-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

// The width of an element, kept up to date as it resizes (0 before layout).
export function useWidth(ref: { current: HTMLElement | null }): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, [ref.current]);
  return width;
}

// Whether the element has come within `margin` pixels of the viewport (and stays true after):
// charts below the fold ask the server for nothing until someone scrolls towards them, so the
// ones in view are drawn first.
export function useSeen(ref: { current: Element | null }, margin = 300): boolean {
  const [seen, setSeen] = useState(typeof IntersectionObserver === 'undefined');
  useEffect(() => {
    if (seen || !ref.current) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        setSeen(true);
        observer.disconnect();
      }
    }, { rootMargin: `${margin}px` });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [seen, ref.current]);
  return seen;
}
