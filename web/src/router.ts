// History-API navigation: real paths, no hash. `navigate` pushes (or replaces) a URL and tells
// every useLocation hook; the browser's back and forward do the same through popstate.
import { useEffect, useState } from 'preact/hooks';
import { parseQuery, type Params } from './lib/url';

export interface Location {
  pathname: string;
  query: Params;
}

const kEvent = 'labbook:navigate';

function current(): Location {
  return { pathname: window.location.pathname, query: parseQuery(window.location.search) };
}

export function navigate(url: string, options: { replace?: boolean } = {}): void {
  const here = window.location.pathname + window.location.search;
  if (url === here) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new Event(kEvent));
  if (!options.replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(kEvent, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(kEvent, update);
    };
  }, []);
  return loc;
}

// A click on a link that the page handles itself: a plain left click without modifier keys.
export function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey && !e.defaultPrevented;
}
