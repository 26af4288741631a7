// An image fetched with the key header (an <img src> could not send it) and shown from a blob
// URL. Fetches are cached by path, and at most six are in flight, so a scrolled table of
// thumbnails neither refetches nor floods the server.
import { useEffect, useState } from 'preact/hooks';
import { fetchBlob } from '../api';
import { createLimiter } from '../lib/limiter';

const kMaxCached = 3000;
const cache = new Map<string, Promise<string>>();
// Six images at once, as a browser fetches from one host over HTTP/1.1.
const images = createLimiter(6);

function load(src: string): Promise<string> {
  let p = cache.get(src);
  if (p) return p;
  p = images.run(() => fetchBlob(src)).then((b) => URL.createObjectURL(b));
  p.catch(() => cache.delete(src));
  cache.set(src, p);
  if (cache.size > kMaxCached) {
    const [oldest, url] = cache.entries().next().value as [string, Promise<string>];
    cache.delete(oldest);
    url.then((u) => URL.revokeObjectURL(u), () => undefined);
  }
  return p;
}

// Forgets every cached image (after the key changes, what may be read changes too).
export function clearImageCache(): void {
  for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u), () => undefined);
  cache.clear();
}

export function AuthImage(props: { src: string; alt: string; class?: string; width?: number; height?: number }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    setUrl(null);
    setFailed(false);
    load(props.src).then((u) => live && setUrl(u), () => live && setFailed(true));
    return () => { live = false; };
  }, [props.src]);
  if (failed) return <span class={`img-missing ${props.class ?? ''}`} role="img" aria-label={`${props.alt} (not available)`}>?</span>;
  if (!url) return <span class={`img-loading ${props.class ?? ''}`} aria-hidden="true" />;
  return <img src={url} alt={props.alt} class={`pixelated ${props.class ?? ''}`} width={props.width} height={props.height} />;
}
