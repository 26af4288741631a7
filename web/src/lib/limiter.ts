// At most `n` tasks at once; waiting tasks start lowest `priority` first, then in the order they
// asked. The page reads many charts and images from a server that may have two cores: all at
// once, each waits for all the others and the chart at the top is drawn last; in order, it is
// drawn first. Tasks asked for in one turn of the event loop (the charts that come into view
// together) are ordered before any starts.
export interface Limiter {
  // Runs `task` when a slot is free. A task whose `signal` is aborted while it waits is not run:
  // its promise rejects with the signal's reason.
  run<T>(task: () => Promise<T>, options?: { signal?: AbortSignal; priority?: number }): Promise<T>;
  // Tasks running and waiting, for tests.
  readonly running: number;
  readonly waiting: number;
}

interface Waiting {
  start: () => void;
  priority: number;
  order: number;
}

export function createLimiter(n: number): Limiter {
  let running = 0;
  let asked = 0;
  let scheduled = false;
  const queue: Waiting[] = [];
  const next = () => {
    while (running < n && queue.length > 0) {
      let best = 0;
      for (let i = 1; i < queue.length; i++) {
        const a = queue[i];
        const b = queue[best];
        if (a.priority < b.priority || (a.priority === b.priority && a.order < b.order)) best = i;
      }
      queue.splice(best, 1)[0].start();
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      next();
    }, 0);
  };
  return {
    get running() { return running; },
    get waiting() { return queue.length; },
    run<T>(task: () => Promise<T>, options: { signal?: AbortSignal; priority?: number } = {}): Promise<T> {
      const { signal, priority = 0 } = options;
      return new Promise<T>((resolve, reject) => {
        const aborted = () => signal!.reason ?? new DOMException('aborted', 'AbortError');
        if (signal?.aborted) {
          reject(aborted());
          return;
        }
        const entry: Waiting = {
          priority,
          order: asked++,
          start: () => {
            signal?.removeEventListener('abort', drop);
            running++;
            let done: Promise<T>;
            try {
              done = task();
            } catch (error) {
              done = Promise.reject(error);
            }
            done.then(resolve, reject).finally(() => {
              running--;
              next();
            });
          },
        };
        const drop = () => {
          const at = queue.indexOf(entry);
          if (at >= 0) queue.splice(at, 1);
          reject(aborted());
        };
        signal?.addEventListener('abort', drop, { once: true });
        queue.push(entry);
        schedule();
      });
    },
  };
}
