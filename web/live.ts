import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';

/** Grows by one on every change the server announces (GET /events); pages re-read when it grows. */
export const LiveContext = createContext(0);

/**
 * Follows the server's change stream. Changes are coalesced over 100 ms, so a burst (a release and its
 * deliveries, a deployment's steps) costs one re-read per page.
 */
export function useLiveCounter(enabled: boolean): { count: number; connected: boolean } {
  const [count, setCount] = useState(0);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource('/events');
    let timer: number | undefined;
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('error', () => setConnected(false));
    source.addEventListener('change', () => {
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        setCount((c) => c + 1);
      }, 100);
    });
    return () => {
      window.clearTimeout(timer);
      source.close();
    };
  }, [enabled]);
  return { count, connected };
}

export interface Loaded<T> {
  readonly data: T | null;
  readonly error: string | null;
  readonly reload: () => void;
}

/** Loads with `load`, again when `deps` change, on every live change, and on reload(). */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const live = useContext(LiveContext);
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setState({ data, error: null }),
      (err: unknown) =>
        current &&
        setState((s) => ({ data: s.data, error: err instanceof Error ? err.message : String(err) })),
    );
    return () => {
      current = false;
    };
  }, [...deps, live, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}
