// Small hooks the pages share: a load keyed by what it reads, a ticking clock.
import { useCallback, useEffect, useEffectEvent, useState, useSyncExternalStore } from 'react';

export interface Loaded<T> {
  /** The last value read (kept while the next read is under way). */
  data: T | undefined;
  error: unknown;
  /** A read for the current key is under way. */
  loading: boolean;
  /** Reads again. */
  reload: () => void;
  /** Changes the value in place (live updates). */
  mutate: (fn: (old: T) => T) => void;
}

interface LoadState<T> {
  key: string;
  data: T | undefined;
  error: unknown;
}

/**
 * Reads `load()` whenever `key` changes (null: nothing to read). State is only set when a read
 * ends, and a read that a newer key overtook is dropped.
 */
export function useLoad<T>(key: string | null, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<LoadState<T>>({ key: '', data: undefined, error: undefined });
  const [nonce, setNonce] = useState(0);
  const read = useEffectEvent(load);
  const full = key === null ? null : `${key}#${String(nonce)}`;
  useEffect(() => {
    if (full === null) return undefined;
    let current = true;
    read().then(
      (data) => {
        if (current) setState({ key: full, data, error: undefined });
      },
      (error: unknown) => {
        if (current) setState((old) => ({ key: full, data: old.data, error }));
      },
    );
    return () => {
      current = false;
    };
  }, [full]);
  const reload = useCallback(() => {
    setNonce((n) => n + 1);
  }, []);
  const mutate = useCallback((fn: (old: T) => T) => {
    setState((old) => (old.data === undefined ? old : { ...old, data: fn(old.data) }));
  }, []);
  return {
    data: state.data,
    error: state.key === full ? state.error : undefined,
    loading: full !== null && state.key !== full,
    reload,
    mutate,
  };
}

/** The time, renewed every `ms` (for "retrying at" badges that turn over, rates, ages). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => {
      setNow(Date.now());
    }, ms);
    return () => {
      clearInterval(t);
    };
  }, [ms]);
  return now;
}

/** A value that follows `value` after it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => {
      setSettled(value);
    }, ms);
    return () => {
      clearTimeout(t);
    };
  }, [value, ms]);
  return settled;
}

// One clock for every badge on the page: a single interval, running while someone reads it.
const clock = {
  now: Date.now(),
  listeners: new Set<() => void>(),
  timer: undefined as ReturnType<typeof setInterval> | undefined,
};

function subscribeClock(fn: () => void): () => void {
  clock.listeners.add(fn);
  clock.timer ??= setInterval(() => {
    clock.now = Date.now();
    for (const l of clock.listeners) l();
  }, 1000);
  return () => {
    clock.listeners.delete(fn);
    if (!clock.listeners.size && clock.timer !== undefined) {
      clearInterval(clock.timer);
      clock.timer = undefined;
    }
  };
}

/** The time to the second, shared by every reader (a "retrying at" badge turns over by itself). */
export function useClock(): number {
  return useSyncExternalStore(subscribeClock, () => clock.now);
}
