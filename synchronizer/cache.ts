// The synchronizer's view of the models: the model service with a cache of objects read by id,
// and of lists (dropped whenever anything in their table changes).
// A reconcile reads the same few objects again and again (every pod's slice, trust domain,
// cluster, image, networks), and on a machine where PostgreSQL shares the CPUs with the
// backends those round trips are what convergence waits for.
//
// Correctness rests on one rule: every change reaches the cache before anything acts on it.
// - Changes committed elsewhere (the API, the CLI, another process) arrive through the change
//   log; the engine's watch calls invalidate() for each, before it queues the object.
// - Writes through this service invalidate what they touch when they return: a status write
//   its object; a transaction (create, update, delete, a policy) the whole cache, since it may
//   have touched anything.
// - A read that was under way when its object was invalidated is not stored (it may hold the
//   old row); and clear() (the watch restarting, which may have missed changes) drops everything.
import DataLoader from 'dataloader';
import { NotFoundError, ValidationError } from '../models/errors.js';
import {
  ModelService,
  type ModelObject,
  type ListOptions,
  type ModelTx,
  type Page,
  type StatusWrite,
  type StatusWriteOf,
} from '../models/service.js';

/** Objects cached at most; past it the cache starts afresh. */
const MAX_ENTRIES = 100_000;
/** Lists cached per table at most. */
const MAX_LISTS_PER_TABLE = 1000;

export interface CacheStats {
  hits: number;
  misses: number;
  invalidations: number;
}

export class CachedModelService extends ModelService {
  private readonly entries = new Map<string, ModelObject>();
  /** Reads under way per key, and whether their key was invalidated meanwhile. */
  private readonly inflight = new Map<string, { count: number; dirty: boolean }>();
  /** List results by table, then by the list's options; any change to the table drops them. */
  private readonly lists = new Map<string, Map<string, Page>>();
  private readonly listsInflight = new Map<string, { count: number; dirty: boolean }>();
  readonly cacheStats: CacheStats = { hits: 0, misses: 0, invalidations: 0 };
  /**
   * What concurrent reconciles ask for in one turn of the event loop goes in one statement:
   * reads by id that miss the cache (per table), lists of referring objects (per model and
   * reference), status writes (per model). Nothing is cached by these: each read is made
   * after it was asked for, so it is as fresh as a read of its own.
   */
  private readonly byId = new Map<string, DataLoader<number, ModelObject | undefined>>();
  private readonly referring = new Map<string, DataLoader<number, ModelObject[]>>();
  private readonly statusWrites = new Map<string, DataLoader<StatusWriteOf, void>>();

  /** The cache key of an object: its table (shared by a model's family) and id. */
  private keyOf(model: string, id: number): string | undefined {
    if (!this.registry.has(model)) return undefined;
    return `${this.registry.get(model).table}:${String(id)}`;
  }

  /** Forgets an object (a change to it was committed). */
  invalidate(model: string, id: number): void {
    const key = this.keyOf(model, id);
    if (key === undefined) return;
    this.cacheStats.invalidations++;
    this.entries.delete(key);
    const f = this.inflight.get(key);
    if (f) f.dirty = true;
    const table = this.registry.get(model).table;
    this.lists.delete(table);
    const l = this.listsInflight.get(table);
    if (l) l.dirty = true;
  }

  /** Forgets everything (changes may have been missed). */
  clear(): void {
    this.entries.clear();
    for (const f of this.inflight.values()) f.dirty = true;
    this.lists.clear();
    for (const l of this.listsInflight.values()) l.dirty = true;
  }

  override async list(model: string, options: ListOptions = {}): Promise<Page> {
    if (!this.registry.has(model)) return super.list(model, options);
    const table = this.registry.get(model).table;
    const key = `${model} ${JSON.stringify(options)}`;
    const hit = this.lists.get(table)?.get(key);
    if (hit) {
      this.cacheStats.hits++;
      return { ...hit, items: hit.items.map((o) => ({ ...o })) };
    }
    this.cacheStats.misses++;
    let f = this.listsInflight.get(table);
    if (!f) this.listsInflight.set(table, (f = { count: 0, dirty: false }));
    f.count++;
    try {
      const page = await super.list(model, options);
      if (!f.dirty) {
        let byOptions = this.lists.get(table);
        if (!byOptions) this.lists.set(table, (byOptions = new Map<string, Page>()));
        if (byOptions.size >= MAX_LISTS_PER_TABLE) byOptions.clear();
        byOptions.set(key, page);
      }
      return { ...page, items: page.items.map((o) => ({ ...o })) };
    } finally {
      if (--f.count === 0) this.listsInflight.delete(table);
    }
  }

  override async get(
    model: string,
    id: number,
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelObject> {
    const key = this.keyOf(model, id);
    if (key === undefined) return super.get(model, id, options);
    const hit = this.entries.get(key);
    if (hit) {
      const m = this.registry.get(model);
      if (
        !m.family.includes(hit.leaf_model) ||
        (!options.includeDeleted && hit.deleted_at !== null)
      ) {
        throw new NotFoundError(model, id);
      }
      this.cacheStats.hits++;
      return { ...hit };
    }
    this.cacheStats.misses++;
    let f = this.inflight.get(key);
    if (!f) this.inflight.set(key, (f = { count: 0, dirty: false }));
    f.count++;
    try {
      // Deleted objects too, so that the entry serves both kinds of read.
      const m = this.registry.get(model);
      const obj = await this.idLoader(m.root).load(id);
      if (!obj || !m.family.includes(obj.leaf_model)) throw new NotFoundError(model, id);
      if (!f.dirty) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        this.entries.set(key, obj);
      }
      if (!options.includeDeleted && obj.deleted_at !== null) throw new NotFoundError(model, id);
      return { ...obj };
    } finally {
      if (--f.count === 0) this.inflight.delete(key);
    }
  }

  /** Hits from the cache, the rest in one read (stored unless invalidated meanwhile). */
  override async getMany(
    model: string,
    ids: readonly number[],
    options: { includeDeleted?: boolean } = {},
  ): Promise<ModelObject[]> {
    if (!this.registry.has(model)) return super.getMany(model, ids, options);
    const m = this.registry.get(model);
    const found: ModelObject[] = [];
    const missing: { id: number; key: string; f: { count: number; dirty: boolean } }[] = [];
    for (const id of new Set(ids)) {
      const key = this.keyOf(model, id)!;
      const hit = this.entries.get(key);
      if (hit) {
        this.cacheStats.hits++;
        if (
          m.family.includes(hit.leaf_model) &&
          (options.includeDeleted || hit.deleted_at === null)
        ) {
          found.push({ ...hit });
        }
        continue;
      }
      this.cacheStats.misses++;
      let f = this.inflight.get(key);
      if (!f) this.inflight.set(key, (f = { count: 0, dirty: false }));
      f.count++;
      missing.push({ id, key, f });
    }
    if (missing.length === 0) return found;
    try {
      const rows = await super.getMany(
        model,
        missing.map((x) => x.id),
        { includeDeleted: true },
      );
      const byId = new Map(rows.map((o) => [o.id, o]));
      for (const { id, key, f } of missing) {
        const obj = byId.get(id);
        if (!obj) continue;
        if (!f.dirty) {
          if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
          this.entries.set(key, obj);
        }
        if (options.includeDeleted || obj.deleted_at === null) found.push({ ...obj });
      }
      return found;
    } finally {
      for (const { key, f } of missing) if (--f.count === 0) this.inflight.delete(key);
    }
  }

  /** Reads by id of a table (by its root model), gathered until the event loop turns. */
  private idLoader(root: string): DataLoader<number, ModelObject | undefined> {
    let loader = this.byId.get(root);
    if (!loader) {
      loader = new DataLoader(
        async (ids) => {
          const rows = await ModelService.prototype.getMany.call(this, root, ids, {
            includeDeleted: true,
          });
          const found = new Map(rows.map((o) => [o.id, o]));
          // Each asker gets its own copy (duplicates of one id may come in one batch).
          return ids.map((id) => {
            const o = found.get(id);
            return o && { ...o };
          });
        },
        { cache: false, maxBatchSize: 5000, batchScheduleFn: (run) => setImmediate(run) },
      );
      this.byId.set(root, loader);
    }
    return loader;
  }

  override async listReferring(model: string, field: string, id: number): Promise<ModelObject[]> {
    if (!this.registry.has(model)) return super.listReferring(model, field, id);
    const key = `${model} ${field}`;
    let loader = this.referring.get(key);
    if (!loader) {
      loader = new DataLoader(
        async (ids) => {
          const byId = await this.listReferringMany(model, field, [...new Set(ids)]);
          return ids.map((i) => (byId.get(i) ?? []).map((o) => ({ ...o })));
        },
        { cache: false, maxBatchSize: 5000, batchScheduleFn: (run) => setImmediate(run) },
      );
      this.referring.set(key, loader);
    }
    return loader.load(id);
  }

  /**
   * Concurrent status writes of one model go in one setStatusMany (two writes to one object in
   * one batch merge, the later's values winning). Feedback of a model with subclasses, and a
   * batch that one bad write makes invalid, are written one by one, each with its own outcome.
   */
  override async writeStatus(model: string, id: number, status: StatusWrite): Promise<void> {
    if (!this.registry.has(model)) return super.writeStatus(model, id, status);
    if (status.feedback && this.registry.get(model).family.length > 1) {
      return super.writeStatus(model, id, status);
    }
    let loader = this.statusWrites.get(model);
    if (!loader) {
      loader = new DataLoader<StatusWriteOf, void>(
        async (writes) => {
          const merged = new Map<number, StatusWrite>();
          for (const w of writes) {
            const before = merged.get(w.id);
            merged.set(
              w.id,
              before
                ? {
                    ...before,
                    ...w.status,
                    ...(before.feedback || w.status.feedback
                      ? { feedback: { ...before.feedback, ...w.status.feedback } }
                      : {}),
                  }
                : w.status,
            );
          }
          const all = [...merged].map(([i, st]) => ({ id: i, status: st }));
          try {
            await this.setStatusMany(model, all);
            return writes.map(() => undefined);
          } catch (err) {
            if (!(err instanceof ValidationError) || writes.length === 1) throw err;
          }
          return Promise.all(
            writes.map((w) =>
              super.writeStatus(model, w.id, w.status).then(
                () => undefined,
                (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
              ),
            ),
          );
        },
        { cache: false, maxBatchSize: 1000, batchScheduleFn: (run) => setImmediate(run) },
      );
      this.statusWrites.set(model, loader);
    }
    try {
      await loader.load({ id, status });
    } finally {
      this.invalidate(model, id);
    }
  }

  override async setStatusMany(model: string, writes: readonly StatusWriteOf[]): Promise<void> {
    try {
      await super.setStatusMany(model, writes);
    } finally {
      for (const w of writes) this.invalidate(model, w.id);
    }
  }

  override async setStatus(model: string, id: number, status: StatusWrite): Promise<ModelObject> {
    try {
      return await super.setStatus(model, id, status);
    } finally {
      this.invalidate(model, id);
    }
  }

  override async transaction<T>(work: (tx: ModelTx) => Promise<T>): Promise<T> {
    try {
      return await super.transaction(work);
    } finally {
      this.clear();
    }
  }

  /** The pool belongs to the service this one was made from. */
  override close(): Promise<void> {
    return Promise.resolve();
  }
}
