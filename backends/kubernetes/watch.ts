// A small informer: list, then watch from the list's resourceVersion, keeping a cache. When the
// watch ends it resumes from the last version seen; when that version has expired (410 Gone) or
// the apiserver cannot be reached, it lists again (with backoff) and reports the objects that
// vanished meanwhile as DELETED, so that nothing done while it was away goes unnoticed.
import * as k8s from '@kubernetes/client-node';
import type { KubeObject, KubernetesCluster } from './cluster.js';
import { asError, KubernetesError, translateError } from './errors.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchOptions<T extends KubeObject> {
  apiVersion: string;
  kind: string;
  /** All namespaces when not given. */
  namespace?: string;
  labelSelector?: string;
  /** Called in order, one event at a time (an async handler is awaited). */
  onEvent(type: WatchEventType, obj: T): void | Promise<void>;
  /** After every (re)list, once its events were handled: the objects that exist now. */
  onSynced?(objects: T[]): void | Promise<void>;
  /** A failed list or watch, or a handler that threw; the watch goes on. */
  onError?(err: Error): void;
  /** Backoff after failures (default 500 ms doubling to 30 s). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** The apiserver ends a watch after this long; it is then resumed (default 300 s). */
  timeoutSeconds?: number;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The watch expired: list again. */
class Expired extends Error {}

export class ObjectWatch<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private firstSync: { promise: Promise<void>; resolve: () => void };
  private lists = 0;

  constructor(
    private readonly cluster: KubernetesCluster,
    private readonly options: WatchOptions<T>,
  ) {
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstSync = { promise, resolve };
  }

  /** Starts listing and watching in the background; `synced()` tells when the first list is in. */
  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Resolves once the first list has been handled. */
  synced(): Promise<void> {
    return this.firstSync.promise;
  }

  /** How many times it has listed (1 after the start; more after expiries and failures). */
  get listCount(): number {
    return this.lists;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
    await this.loop;
  }

  /** The cached object, as last seen. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  objects(): T[] {
    return [...this.cache.values()];
  }

  private async run(): Promise<void> {
    const min = this.options.minRetryMs ?? 500;
    const max = this.options.maxRetryMs ?? 30_000;
    let retry = min;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        retry = min;
        await this.watchOnce();
      } catch (err) {
        if (this.isStopped()) break;
        if (err instanceof Expired) {
          this.resourceVersion = undefined;
          continue;
        }
        this.options.onError?.(asError(err));
        // After a failure the version may be gone too: list again, which also catches up.
        this.resourceVersion = undefined;
        await this.sleep(retry);
        retry = Math.min(retry * 2, max);
      }
    }
  }

  /** Read through a method: stop() flips it while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const { apiVersion, kind, namespace, labelSelector } = this.options;
    const { items, resourceVersion } = await this.cluster.listWithVersion<T>(
      apiVersion,
      kind,
      namespace,
      labelSelector,
    );
    this.lists++;
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      const had = this.cache.has(key);
      this.cache.set(key, item);
      await this.handle(had ? 'MODIFIED' : 'ADDED', item);
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      await this.handle('DELETED', old);
    }
    this.resourceVersion = resourceVersion;
    try {
      await this.options.onSynced?.(items);
    } catch (err) {
      this.options.onError?.(asError(err));
    }
    this.firstSync.resolve();
  }

  private async handle(type: WatchEventType, obj: T): Promise<void> {
    try {
      await this.options.onEvent(type, obj);
    } catch (err) {
      this.options.onError?.(asError(err));
    }
  }

  /** One watch request, until the apiserver ends it (resolves) or it fails (rejects). */
  private async watchOnce(): Promise<void> {
    const { apiVersion, kind, namespace, labelSelector } = this.options;
    const path = await this.cluster.collectionPath(apiVersion, kind, namespace);
    const watch = new k8s.Watch(this.cluster.kubeConfig);
    // Events are handled one at a time, in order, after the request's own callback returns.
    let chain = Promise.resolve();
    let failure: Error | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      const onEvent = (type: string, obj: unknown) => {
        if (type === 'BOOKMARK') {
          const rv = (obj as KubeObject).metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          return;
        }
        if (type === 'ERROR') {
          const status = obj as { code?: number; message?: string };
          failure =
            status.code === 410
              ? new Expired(status.message ?? 'expired')
              : translateError(
                  { code: status.code ?? 500, body: status },
                  { kind },
                  this.cluster.server,
                );
          this.controller?.abort();
          return;
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        const item = obj as T;
        item.apiVersion ??= apiVersion;
        item.kind ??= kind;
        chain = chain.then(async () => {
          const key = keyOf(item);
          if (type === 'DELETED') this.cache.delete(key);
          else this.cache.set(key, item);
          await this.handle(type, item);
          const rv = item.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
        });
      };
      const done = (err: unknown) => {
        void chain.then(() => {
          if (failure) reject(failure);
          else if (err && !this.stopped) {
            reject(asError(err));
          } else resolve();
        });
      };
      watch
        .watch(
          path,
          {
            labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.options.timeoutSeconds ?? 300,
          },
          onEvent,
          done,
        )
        .then(
          (controller) => {
            this.controller = controller;
            if (this.stopped) controller.abort();
          },
          (err: unknown) => {
            reject(asError(err));
          },
        );
    });
    try {
      await ended;
    } catch (err) {
      if (err instanceof Expired || err instanceof KubernetesError) throw err;
      throw translateError(err, { kind }, this.cluster.server);
    }
  }
}
