// The watch: one stream per page, shared by its components. Each component subscribes to the
// models it shows; the stream watches their union (restarted from now when the union changes)
// and, after an error, reconnects from the last cursor it saw so that no change is missed.
// The stream is read with fetch (the token goes in a header, which EventSource cannot send)
// and parsed by eventsource-parser.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { createContext, useContext, useEffect, useEffectEvent, useSyncExternalStore } from 'react';
import type { Api } from './api';
import type { WatchEvent } from './types';

/** Three missed keepalives (the gateway sends one every 15 s). */
const IDLE_MS = 45_000;

export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting';

export interface Subscriber {
  models: string[];
  onEvent: (e: WatchEvent) => void;
  /** Changes may have been missed (the cursor expired, or none was seen yet): read again. */
  onReset: () => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

class StreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Live {
  private readonly subs = new Set<Subscriber>();
  private readonly listeners = new Set<() => void>();
  private cursor = '';
  private streaming = '';
  private abort: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private state: LiveState = 'idle';

  constructor(
    private readonly api: Api,
    /** The models a watch of `model` sees (itself and the models extending it). */
    private readonly family: (model: string) => Set<string>,
    private readonly onUnauthorized: () => void,
  ) {}

  subscribe(sub: Subscriber): () => void {
    this.subs.add(sub);
    this.schedule();
    return () => {
      this.subs.delete(sub);
      this.schedule();
    };
  }

  getState = (): LiveState => this.state;

  onState = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  close(): void {
    clearTimeout(this.timer);
    this.abort?.abort();
    this.subs.clear();
  }

  private setState(s: LiveState): void {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.listeners) fn();
  }

  /** Subscriptions come and go as a page mounts: settle before restarting the stream. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.restart();
    }, 30);
  }

  private restart(): void {
    const models = [...new Set([...this.subs].flatMap((s) => s.models))].sort();
    const key = models.join(',');
    if (key === this.streaming) return;
    this.abort?.abort();
    this.streaming = key;
    // A new page has just read its objects: it needs the changes from now, not a replay.
    this.cursor = '';
    if (!models.length) {
      this.setState('idle');
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    void this.run(models, abort.signal);
  }

  private async run(models: string[], signal: AbortSignal): Promise<void> {
    let delay = 1000;
    let first = true;
    const stopped = () => signal.aborted;
    while (!stopped()) {
      this.setState(first ? 'connecting' : 'reconnecting');
      if (!first && !this.cursor) this.reset();
      first = false;
      try {
        const res = await this.api.watch(models, this.cursor, signal);
        if (!res.ok) {
          const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
          throw new StreamError(body.code ?? String(res.status), body.message ?? res.statusText);
        }
        if (!res.body) throw new StreamError('UNAVAILABLE', 'no body');
        this.setState('live');
        delay = 1000;
        await this.read(res.body, signal);
      } catch (err) {
        if (stopped()) return;
        if (err instanceof StreamError && err.code === 'UNAUTHENTICATED') {
          this.onUnauthorized();
          return;
        }
        if (err instanceof StreamError && /cursor/i.test(err.message)) this.cursor = '';
      }
      if (stopped()) return;
      this.setState('reconnecting');
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 15000);
    }
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    // An error event ends the stream: the loop below throws it.
    const seen: { failure?: StreamError } = {};
    const parser = createParser({
      onEvent: (m) => {
        seen.failure ??= this.message(m);
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const cancel = () => void reader.cancel().catch(() => undefined);
    signal.addEventListener('abort', cancel);
    // The server sends a keepalive comment every 15 s: silence for longer means the connection
    // died without closing (a laptop's sleep, a dropped proxy). Reconnect from the cursor.
    let idle: ReturnType<typeof setTimeout> | undefined;
    const stale = { hit: false };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stale.hit = true;
        cancel();
      }, IDLE_MS);
    };
    arm();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (stale.hit) throw new StreamError('UNAVAILABLE', 'the watch went quiet');
        if (done) break;
        arm();
        parser.feed(decoder.decode(value, { stream: true }));
        if (seen.failure) throw seen.failure;
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', cancel);
    }
    if (seen.failure) throw seen.failure;
  }

  /** Dispatches a change to the subscribers that watch its model; an error is returned. */
  private message(m: EventSourceMessage): StreamError | undefined {
    if (m.event === 'error') {
      let body: { code?: string; message?: string } = {};
      try {
        body = JSON.parse(m.data) as typeof body;
      } catch {
        // kept empty
      }
      return new StreamError(body.code ?? 'UNKNOWN', body.message ?? m.data);
    }
    if (m.event !== 'change') return undefined;
    let e: WatchEvent;
    try {
      e = JSON.parse(m.data) as WatchEvent;
    } catch {
      return undefined;
    }
    if (m.id) this.cursor = m.id;
    for (const s of this.subs) {
      if (s.models.some((model) => this.family(model).has(e.model))) s.onEvent(e);
    }
    return undefined;
  }

  private reset(): void {
    for (const s of this.subs) s.onReset();
  }
}

export const LiveContext = createContext<Live | null>(null);

/**
 * Calls `onEvent` for every change of these models (and of the models extending them) while
 * the component is mounted; `onReset` when changes may have been missed.
 */
export function useWatch(
  models: readonly string[],
  onEvent: (e: WatchEvent) => void,
  onReset?: () => void,
): void {
  const live = useContext(LiveContext);
  const handle = useEffectEvent(onEvent);
  const reset = useEffectEvent(() => {
    onReset?.();
  });
  const key = models.join(',');
  useEffect(() => {
    if (!live || !key) return undefined;
    return live.subscribe({
      models: key.split(','),
      onEvent: (e) => {
        handle(e);
      },
      onReset: () => {
        reset();
      },
    });
  }, [live, key]);
}

const noState = () => () => undefined;

/** The stream's state, for the header's indicator. */
export function useLiveState(): LiveState {
  const live = useContext(LiveContext);
  return useSyncExternalStore(live?.onState ?? noState, live?.getState ?? (() => 'idle'));
}
