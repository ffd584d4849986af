// The synchronizer's engine: generic and small. It knows models (through the registry and the
// model service) and steps, nothing of any backend. Changes arrive from the change log (NOTIFY),
// from steps' backend watches (ctx.enqueue) and from a periodic level-triggered resync; each
// (model, id) is a key of the work queue, so one object is never worked on twice at once.
//
// For a live object: it waits (pending, no backoff spent) until every object it refers to that
// has a step is synced at its current version; then its step's sync() runs; success records
// `synced_version`, failure records the error and a retry time (exponential backoff, persisted).
// For a deleted object: it waits until nothing refers to it any more (its dependents are torn
// down and reaped first), then its step's delete() runs and the row is reaped.
//
// Per object, two policies decide which of a step's calls run (the steps know nothing of them):
// management_policy `full` (sync), `observe` (only the step's observe(): the backend is read into
// status, never written; deleting the model leaves the backend alone) or `create-only` (sync
// until the first success, then never again); deletion_policy `delete` (delete()) or `orphan`
// (release(): the owner marks come off and the backend objects stay).
import { NotFoundError } from '../models/errors.js';
import type { ManagementPolicy, Registry } from '../models/registry.js';
import type { ModelObject, ModelService, ModelTx, StatusWriteOf } from '../models/service.js';
import { columnOf } from '../models/schema.js';
import { headCursor, watchChanges } from '../models/watch.js';
import { CachedModelService } from './cache.js';
import { KeyedCoalescer } from './keyed.js';
import { backoffMs, WorkQueue } from './queue.js';

export interface StepContext {
  models: ModelService;
  /** Queue an object for reconciliation (e.g. from a backend watch). */
  enqueue(model: string, id: number): void;
  signal: AbortSignal;
}

export interface SyncStep {
  /** Shown in metrics and logs, e.g. "kubernetes/namespace". */
  name: string;
  /** The model whose objects (of every kind of it) the step reconciles. */
  observes: string;
  /** Creates or updates the backend objects; idempotent. Returns one sentence: what was done. */
  sync(obj: ModelObject, ctx: StepContext): Promise<string>;
  /** Removes the backend objects; idempotent (gone already is success). */
  delete(obj: ModelObject, ctx: StepContext): Promise<string | undefined>;
  /**
   * Reads the backend objects the step would make for the object and writes nothing to any
   * backend: for objects whose management_policy is `observe`. Returns one sentence: what is
   * there, and where it differs from the model. Throws (the error the status shows) when they
   * are missing or unreadable. It may write feedback fields, as observers do.
   */
  observe?(obj: ModelObject, ctx: StepContext): Promise<string>;
  /**
   * Takes Syncord's owner marks off the backend objects the step made for the object and
   * changes nothing else about them: for a delete whose deletion_policy is `orphan`. Idempotent
   * (objects gone, or unmarked already, are success). Returns what was done.
   */
  release?(obj: ModelObject, ctx: StepContext): Promise<string | undefined>;
  /**
   * Takes ownership of the backend objects an adopted object was made from (named by its
   * `backend_handle`, which the step's naming honours): adds Syncord's owner marks, and nothing
   * else, so that the sync that follows finds them its own and changes nothing. Undefined when
   * the step has nothing of this object's to adopt. Idempotent. Runs (before the first sync)
   * until the adopted object's first success.
   */
  adopt?(obj: ModelObject, ctx: StepContext): Promise<string | undefined>;
  /**
   * How many objects of its model the engine may reconcile at once (default 1). Above 1, a
   * worker takes up to that many queued objects of one model, reads them in one query, runs
   * `sync` on all of them concurrently (a step whose backend write merges concurrent calls,
   * as OVN's does, then sends few transactions) and writes their statuses in one statement.
   * A model is batched only when every step of it allows it.
   */
  batch?: number;
  /** Starts the step's backend watches, if any; they call ctx.enqueue on drift. */
  start?(ctx: StepContext): Promise<void>;
  /**
   * Objects of the observed model to reconcile again when another object changes (an edited
   * Network re-runs the pods on it): called for every committed change of another model.
   */
  affectedBy?(
    change: { model: string; id: number; status: boolean },
    ctx: StepContext,
  ): Promise<number[]>;
  /**
   * By model: what the step derives from an object of that other model (a Network's NAD, its
   * VTN type and segment). When an edit of the object leaves it the same as at its last edit,
   * affectedBy is not asked (an edit of a field the step does not use re-runs nothing). Models
   * not named here are not read: affectedBy is always asked about them.
   */
  derivedFrom?: Record<string, (obj: ModelObject) => string>;
  /**
   * Ask affectedBy about status and feedback writes too (`status` true), not only about edits:
   * for a step that acts on what another object reports (a pod that became Running).
   */
  affectedByStatus?: boolean;
  stop?(): Promise<void>;
}

/**
 * A model policy, as in XOS: when an object of its model is created or edited, it creates,
 * updates or removes the lower models the object implies (a vSG instance's ports), inside the
 * transaction it is given. Idempotent: it makes the derived objects what they should be.
 */
export interface ModelPolicy {
  name: string;
  observes: string;
  /** Returns one sentence: what it derived. */
  handle(obj: ModelObject, tx: ModelTx): Promise<string>;
}

/** Thrown by a step that cannot proceed yet, not for a fault: no backoff is spent. */
export class WaitingError extends Error {
  constructor(
    message: string,
    readonly retryMs = 5000,
  ) {
    super(message);
    this.name = 'WaitingError';
  }
}

export interface EngineOptions {
  /** Workers running at once (default 8). */
  workers?: number;
  /** Period of the full level-triggered resync (default 5 minutes). */
  resyncMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  log?: (line: string) => void;
  /** The database URL for the change-log watch (a connection of its own, for LISTEN). */
  url: string;
  /** Model policies, run (in a transaction) before an object's sync step. */
  policies?: ModelPolicy[];
  /** Cache objects read by id, kept current by the change watch (default true). */
  cache?: boolean;
  /**
   * How often an object whose management_policy is `observe` is read again (default 60 s),
   * besides when a step's watch reports a change of its backend objects.
   */
  observeMs?: number;
  /** Told of every reconcile (for metrics): the step, its outcome and how long it took. */
  onReconcile?: (step: string, outcome: 'ok' | 'error' | 'waiting', seconds: number) => void;
}

export interface EngineStats {
  reconciles: number;
  errors: number;
  waits: number;
  reaped: number;
}

type Key = `${string}:${string}`;

const keyOf = (model: string, id: number): Key => `${model}:${String(id)}`;
function parseKey(key: Key): { model: string; id: number } {
  const i = key.lastIndexOf(':');
  return { model: key.slice(0, i), id: Number(key.slice(i + 1)) };
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An object's management_policy (rows written before the column existed read as full). */
const managementOf = (obj: ModelObject): ManagementPolicy =>
  obj.management_policy === 'observe' || obj.management_policy === 'create-only'
    ? obj.management_policy
    : 'full';

/** An adopted object whose backend objects may not carry Syncord's marks yet. */
const adopting = (obj: ModelObject): boolean =>
  obj.backend_handle !== null &&
  obj.backend_handle !== undefined &&
  !(typeof obj.synced_version === 'number' && obj.synced_version > 0);

/** Whether a create-only object was created (its steps all succeeded once). */
const created = (obj: ModelObject): boolean =>
  typeof obj.synced_version === 'number' && obj.synced_version > 0;

/**
 * Whether an object is ready for what refers to it: synced at its current version, or, for an
 * observed object, seen in its backend, or, for a create-only one, created.
 */
function ready(obj: ModelObject): boolean {
  if (obj.deleted_at !== null || obj.backend_code !== 1) return false;
  switch (managementOf(obj)) {
    case 'observe':
      return true;
    case 'create-only':
      return created(obj);
    default:
      return obj.synced_version === obj.version;
  }
}

export class Engine {
  readonly queue = new WorkQueue<Key>();
  readonly stats: EngineStats = { reconciles: 0, errors: 0, waits: 0, reaped: 0 };
  /** Per step name: reconciles, errors and total seconds, for metrics. */
  readonly stepStats = new Map<string, { runs: number; errors: number; seconds: number }>();
  private readonly steps = new Map<string, SyncStep[]>();
  private readonly policies = new Map<string, ModelPolicy>();
  /** Dependents waiting on an object: re-queued when it syncs or goes away. */
  private readonly waiters = new Map<Key, Set<Key>>();
  private readonly controller = new AbortController();
  private running: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;

  /**
   * The models as the engine and its steps see them: the service given, with a cache of objects
   * read by id that the change watch keeps current (`synchronizer/cache.ts`).
   */
  readonly models: ModelService;
  private readonly cache: CachedModelService | undefined;
  /**
   * Fan-outs of committed changes, off the watch: asking the steps what a change affects costs
   * queries, and the watch must keep queueing the changes themselves meanwhile (a Network's
   * fan-out lists its ports; 50 of them in a row held up everything behind them). A change seen
   * again while its fan-out waits is asked once.
   */
  private readonly fanOuts = new KeyedCoalescer<{ model: string; id: number; status: boolean }>(
    (_key, change) => this.fanOut(change),
    { concurrency: 4 },
  );

  constructor(
    readonly registry: Registry,
    models: ModelService,
    steps: SyncStep[],
    private readonly options: EngineOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    this.cache =
      options.cache === false ? undefined : new CachedModelService(models.pool, registry);
    this.models = this.cache ?? models;
    for (const policy of options.policies ?? []) {
      if (!registry.has(policy.observes)) {
        throw new Error(`policy ${policy.name} observes unknown model ${policy.observes}`);
      }
      for (const m of registry.get(policy.observes).family) this.policies.set(m, policy);
    }
    // Per model, one step per backend (the part of the step's name before "/"): the most
    // specific wins within a backend (a step for VNFServiceInstance over one for
    // ServiceInstance); steps of different backends all run, in registration order.
    const chosen = new Map<string, Map<string, SyncStep>>();
    for (const step of steps) {
      if (!registry.has(step.observes)) {
        throw new Error(`step ${step.name} observes unknown model ${step.observes}`);
      }
      const backend = step.name.split('/')[0] ?? step.name;
      for (const m of registry.get(step.observes).family) {
        let perBackend = chosen.get(m);
        if (!perBackend) chosen.set(m, (perBackend = new Map<string, SyncStep>()));
        const other = perBackend.get(backend);
        if (
          other &&
          registry.get(other.observes).family.length <= registry.get(step.observes).family.length
        ) {
          continue;
        }
        perBackend.set(backend, step);
      }
    }
    for (const [m, perBackend] of chosen) this.steps.set(m, [...perBackend.values()]);
  }

  /** The steps that reconcile objects of this model, in the order they run. */
  stepsFor(model: string): SyncStep[] {
    return this.steps.get(model) ?? [];
  }

  private allSteps(): Set<SyncStep> {
    return new Set([...this.steps.values()].flat());
  }

  private get ctx(): StepContext {
    return {
      models: this.models,
      enqueue: (model, id) => {
        this.queue.add(keyOf(model, id));
      },
      signal: this.controller.signal,
    };
  }

  /** Starts the watch, the workers, the steps' watches and the first resync. */
  async start(): Promise<void> {
    const signal = this.controller.signal;
    for (const step of this.allSteps()) {
      await step.start?.(this.ctx);
      this.startedSteps.push(step);
    }
    // Watch first, then resync: nothing committed in between is missed.
    let resolveReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    this.running.push(this.watch(resolveReady));
    await ready;
    await this.resync();
    const resyncMs = this.options.resyncMs ?? 5 * 60_000;
    const tick = () => {
      this.resync()
        .catch((err: unknown) => {
          this.log(`resync failed: ${String(err)}`);
        })
        .finally(() => {
          if (!signal.aborted) this.resyncTimer = setTimeout(tick, resyncMs).unref();
        });
    };
    this.resyncTimer = setTimeout(tick, resyncMs).unref();
    for (let i = 0; i < (this.options.workers ?? 8); i++) {
      const w = this.worker();
      this.workers.push(w);
      this.running.push(w);
    }
  }

  /**
   * Stops the engine: no new work is taken; with `graceMs`, the reconciles in flight may finish
   * (and record their status) for up to that long before the steps' calls are aborted, so that a
   * replica shutting down cleanly leaves no half-done write to the next leader. A second call
   * waits for the first.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopped ??= this.shutdown(options.graceMs ?? 0);
    return this.stopped;
  }
  private stopped: Promise<void> | undefined;

  private async shutdown(graceMs: number): Promise<void> {
    clearTimeout(this.resyncTimer);
    // Workers finish the object in hand and then find the queue closed.
    this.queue.shutDown();
    this.fanOuts.clear();
    if (graceMs > 0 && this.queue.inFlight > 0) {
      const inFlight = this.queue.inFlight;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled(this.workers).then(() => false),
        new Promise<boolean>(
          (resolve) =>
            (timer = setTimeout(() => {
              resolve(true);
            }, graceMs)),
        ),
      ]);
      clearTimeout(timer);
      this.log(
        timedOut
          ? `stopping: ${String(this.queue.inFlight)} reconciles still running after ${String(graceMs)} ms; aborting them`
          : `stopping: the ${String(inFlight)} reconciles in flight finished`,
      );
    }
    this.controller.abort();
    await Promise.allSettled([...this.running, this.fanOuts.drained()]);
    // Only the steps that started (a start that failed midway stops what it had started).
    for (const step of this.startedSteps.splice(0).reverse()) await step.stop?.();
  }
  private readonly startedSteps: SyncStep[] = [];
  private readonly workers: Promise<void>[] = [];

  /** Whether the queue is empty and no worker is busy (tests and benchmarks wait for this). */
  idle(): boolean {
    return this.queue.depth === 0 && this.queue.inFlight === 0 && this.fanOuts.size === 0;
  }

  private stopping(): boolean {
    return this.controller.signal.aborted;
  }

  private async watch(ready: () => void): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        let from = await headCursor(this.models.pool);
        // Whatever was cached before this watch began may have changed unseen.
        this.cache?.clear();
        this.derived.clear();
        ready();
        for await (const change of watchChanges(this.options.url, { from, signal })) {
          from = change.cursor;
          this.cache?.invalidate(change.model, change.id);
          // Reaps need no work; a status write needs none on its object (it is the
          // synchronizer's own), only on the objects of steps that act on what it reports.
          if (change.op === 'reap') continue;
          const status = change.op === 'status';
          if (!status) this.queue.add(keyOf(change.model, change.id));
          if (this.fansOut(change.model, status)) {
            const c = { model: change.model, id: change.id, status };
            // An edit and a status write of one object waiting together: asked as an edit.
            this.fanOuts.push(keyOf(c.model, c.id), (pending) =>
              pending ? { ...c, status: pending.status && status } : c,
            );
          }
        }
      } catch (err) {
        if (this.stopping()) return;
        this.log(`change watch failed, resyncing: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
        await this.resync().catch(() => undefined);
      }
    }
  }

  /** Whether a step asks about a change of this model (of its status only, when `status`). */
  private asks(step: SyncStep, model: string, status: boolean): boolean {
    return (
      step.affectedBy !== undefined &&
      (!status || step.affectedByStatus === true) &&
      !this.registry.get(step.observes).family.includes(model)
    );
  }

  /** Whether any step may be affected by a change to this model (another model's step). */
  private fansOut(model: string, status: boolean): boolean {
    const key = `${model}:${String(status)}`;
    let known = this.fanOutModels.get(key);
    if (known === undefined) {
      known = [...this.allSteps()].some((step) => this.asks(step, model, status));
      this.fanOutModels.set(key, known);
    }
    return known;
  }
  private readonly fanOutModels = new Map<string, boolean>();

  /** Asks the steps that declare it which of their objects a change affects, and queues them. */
  private async fanOut(change: { model: string; id: number; status: boolean }): Promise<void> {
    for (const step of this.allSteps()) {
      if (!step.affectedBy || !this.asks(step, change.model, change.status)) continue;
      try {
        const derive = change.status ? undefined : step.derivedFrom?.[change.model];
        if (derive && !(await this.derivedChanged(step, derive, change))) continue;
        const ids = await step.affectedBy(change, this.ctx);
        const m = this.registry.get(step.observes);
        if (m.family.length === 1) {
          // Keys name the object's own model: here it is the step's, no read needed.
          for (const id of ids) this.queue.add(keyOf(m.name, id));
          continue;
        }
        // Their own models, in one query per thousand (the watch waits for this).
        for (let i = 0; i < ids.length; i += 1000) {
          const page = await this.models.list(step.observes, {
            filter: [{ field: 'id', op: 'in', value: ids.slice(i, i + 1000) }],
            pageSize: 1000,
          });
          for (const obj of page.items) this.queue.add(keyOf(obj.leaf_model, obj.id));
        }
      } catch (err) {
        this.log(
          `${step.name}: could not tell what ${change.model} ${String(change.id)} affects: ${errorText(err)}`,
        );
      }
    }
  }

  /** What each step derived from each object at its last edit (SyncStep.derivedFrom). */
  private readonly derived = new Map<string, string>();

  /** Whether an edit changed what the step derives from the object (true when unknown). */
  private async derivedChanged(
    step: SyncStep,
    derive: (obj: ModelObject) => string,
    change: { model: string; id: number },
  ): Promise<boolean> {
    const obj = await this.models
      .get(change.model, change.id, { includeDeleted: true })
      .catch(() => undefined);
    if (!obj) return true;
    const now = `${derive(obj)}${obj.deleted_at === null ? '' : ' (deleted)'}`;
    const key = `${step.name} ${keyOf(obj.leaf_model, obj.id)}`;
    const before = this.derived.get(key);
    if (this.derived.size >= 100_000) this.derived.clear();
    this.derived.set(key, now);
    return before !== now;
  }

  /**
   * Level-triggered: every object a step reconciles is queued (when due), and every deleted
   * object of any model, so that drift is repaired and nothing is left unreaped.
   */
  async resync(): Promise<number> {
    // Level-triggered all the way: nothing cached survives a resync.
    this.cache?.clear();
    const now = Date.now();
    let n = 0;
    for (const root of this.registry.tables()) {
      const withStep = root.family.some((m) => this.stepsFor(m).length > 0);
      const r = await this.models.pool.query<{
        id: number;
        leaf_model?: string;
        next_attempt_at: Date | null;
      }>(`SELECT * FROM "${root.table}"${withStep ? '' : ' WHERE deleted_at IS NOT NULL'}`);
      for (const row of r.rows) {
        const key = keyOf(row.leaf_model ?? root.name, row.id);
        const wait = row.next_attempt_at ? row.next_attempt_at.getTime() - now : 0;
        if (wait > 0) this.queue.addAfter(key, wait);
        else this.queue.add(key);
        n++;
      }
    }
    return n;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const { model } = parseKey(key);
      const size = this.batchSize(model);
      if (size > 1) {
        const prefix = `${model}:`;
        const keys = [
          key,
          ...this.queue.takeMatching(
            (k) => k.startsWith(prefix) && !k.slice(prefix.length).includes(':'),
            size - 1,
          ),
        ];
        try {
          await this.processBatch(model, keys);
        } catch (err) {
          this.log(`${model} × ${String(keys.length)}: ${errorText(err)}`);
          for (const k of keys) this.queue.addAfter(k, 2000);
        } finally {
          for (const k of keys) this.queue.done(k);
        }
        continue;
      }
      try {
        await this.process(key);
      } catch (err) {
        // Only a failure to record status lands here (e.g. the database went away): retry later.
        this.log(`${key}: ${err instanceof Error ? err.message : String(err)}`);
        this.queue.addAfter(key, 2000);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Objects of the model one worker may reconcile at once (1: no batching). */
  private batchSize(model: string): number {
    const known = this.batchSizes.get(model);
    if (known !== undefined) return known;
    const steps = this.registry.has(model) ? this.stepsFor(model) : [];
    const size =
      steps.length === 0 || this.policies.has(model)
        ? 1
        : Math.max(1, Math.min(...steps.map((st) => st.batch ?? 1)));
    this.batchSizes.set(model, size);
    return size;
  }
  private readonly batchSizes = new Map<string, number>();

  /** Whether an object is backing off after a failure and was not edited since. */
  private backingOff(obj: ModelObject): number {
    const nextAttempt = obj.next_attempt_at ? Date.parse(obj.next_attempt_at as string) : 0;
    const wait = nextAttempt - Date.now();
    if (wait > 0 && obj.deleted_at === null && obj.synced_version !== obj.version) {
      if (!this.editedSinceFailure(obj)) return wait;
    }
    return 0;
  }

  /**
   * Several objects of one model whose steps allow batches: one read, every step's sync on all
   * of them at once, one status write. Objects that need anything else (teardown, no_sync,
   * backoff, another model's steps) go the one-by-one way of process().
   */
  private async processBatch(model: string, keys: Key[]): Promise<void> {
    const objs = await this.models.getMany(
      model,
      keys.map((k) => parseKey(k).id),
      { includeDeleted: true },
    );
    const byId = new Map(objs.map((o) => [o.id, o]));
    const others: Key[] = [];
    let going: { key: Key; obj: ModelObject }[] = [];
    for (const key of keys) {
      const obj = byId.get(parseKey(key).id);
      if (!obj) {
        this.release(key); // reaped already
        continue;
      }
      if (
        obj.deleted_at !== null ||
        obj.no_sync === true ||
        managementOf(obj) !== 'full' ||
        adopting(obj) ||
        obj.leaf_model !== model ||
        this.backingOff(obj) > 0
      ) {
        others.push(key);
      } else {
        going.push({ key, obj });
      }
    }
    const one = async (key: Key) => {
      try {
        await this.process(key);
      } catch (err) {
        this.log(`${key}: ${errorText(err)}`);
        this.queue.addAfter(key, 2000);
      }
    };
    const statuses: StatusWriteOf[] = [];
    const setStatus = (obj: ModelObject, s: StatusWriteOf['status']) => {
      if (!this.unchanged(obj, s)) statuses.push({ id: obj.id, status: s });
    };
    const [, waits] = await Promise.all([
      Promise.all(others.map(one)),
      Promise.all(going.map(async (g) => this.unmetDependency(g.obj, g.key))),
    ]);
    going = going.filter((g, i) => {
      const why = waits[i];
      if (!why) return true;
      this.stats.waits++;
      setStatus(g.obj, { backend_code: 0, backend_status: why });
      return false;
    });
    const steps = this.stepsFor(model);
    const several = steps.length > 1;
    const label = (step: SyncStep, text: string) =>
      several ? `${step.name.split('/')[0] ?? step.name}: ${text}` : text;
    const done = new Map<Key, string[]>(going.map((g) => [g.key, []]));
    const failed: { key: Key; obj: ModelObject; err: unknown }[] = [];
    for (const step of steps) {
      if (going.length === 0) break;
      const started = process.hrtime.bigint();
      const stat = this.stepStat(step.name);
      const results = await Promise.allSettled(going.map((g) => step.sync(g.obj, this.ctx)));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      stat.seconds += seconds;
      const next: typeof going = [];
      results.forEach((r, i) => {
        const g = going[i]!;
        stat.runs++;
        if (r.status === 'fulfilled') {
          done.get(g.key)!.push(label(step, r.value));
          next.push(g);
          this.options.onReconcile?.(step.name, 'ok', seconds);
        } else if (r.reason instanceof WaitingError) {
          this.stats.waits++;
          setStatus(g.obj, { backend_code: 0, backend_status: label(step, r.reason.message) });
          this.queue.addAfter(g.key, r.reason.retryMs);
          this.options.onReconcile?.(step.name, 'waiting', seconds);
        } else {
          this.stats.errors++;
          stat.errors++;
          failed.push({
            key: g.key,
            obj: g.obj,
            err: several ? new Error(label(step, errorText(r.reason))) : r.reason,
          });
          this.options.onReconcile?.(step.name, 'error', seconds);
        }
      });
      going = next;
    }
    for (const g of going) {
      this.stats.reconciles++;
      setStatus(g.obj, {
        backend_code: 1,
        backend_status: done.get(g.key)!.join('; '),
        synced_version: g.obj.version,
        failures: 0,
        next_attempt_at: null,
      });
    }
    if (statuses.length) await this.models.setStatusMany(model, statuses);
    for (const g of going) this.wakeWaiters(g.key);
    for (const f of failed) {
      await this.fail(f.key, f.obj, f.err);
      this.wakeWaiters(f.key); // dependents now show the error they wait on
    }
  }

  private async process(key: Key): Promise<void> {
    const { model, id } = parseKey(key);
    let obj: ModelObject;
    try {
      obj = await this.models.get(model, id, { includeDeleted: true });
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.release(key); // reaped already
        return;
      }
      throw err;
    }
    // Backing off, and not edited since the failure (an edit clears the wait).
    const wait = this.backingOff(obj);
    if (wait > 0) {
      this.queue.addAfter(key, wait);
      return;
    }
    if (obj.deleted_at !== null) return this.teardown(key, obj);
    if (obj.no_sync === true) {
      await this.status(obj, {
        backend_code: 0,
        backend_status: 'not synchronized: no_sync is set',
      });
      return;
    }
    const policy = this.policies.get(obj.leaf_model);
    if (policy && (obj.policed_version !== obj.version || obj.policy_code !== 1)) {
      const current = await this.police(key, policy, obj);
      if (!current) return;
      obj = current;
    }
    const steps = this.stepsFor(obj.leaf_model);
    if (steps.length === 0) return;
    const management = managementOf(obj);
    if (management === 'observe') return this.observe(key, obj, steps);
    if (management === 'create-only' && created(obj)) {
      // Created once: later edits are not applied, and nothing is repaired.
      await this.status(obj, {
        backend_code: 1,
        ...(obj.version === obj.synced_version
          ? {}
          : {
              backend_status: `create-only: created at version ${String(obj.synced_version)}; version ${String(obj.version)} is not applied`,
            }),
        failures: 0,
        next_attempt_at: null,
      });
      this.wakeWaiters(key);
      return;
    }

    const waitingFor = await this.unmetDependency(obj, key);
    if (waitingFor) {
      this.stats.waits++;
      await this.status(obj, { backend_code: 0, backend_status: waitingFor });
      return;
    }
    // Every backend's step in turn; the first that waits or fails stops the rest (they run
    // again on the retry: steps are idempotent). With several, sentences name their backend.
    const several = steps.length > 1;
    const label = (step: SyncStep, text: string) =>
      several ? `${step.name.split('/')[0] ?? step.name}: ${text}` : text;
    const done: string[] = [];
    // Adopted and not yet synced: first the marks go on what it was made from (a sync would
    // otherwise take the objects for someone else's, or replace them).
    if (adopting(obj)) {
      const adopted: string[] = [];
      for (const step of steps) {
        const stat = this.stepStat(step.name);
        try {
          // Nothing of its backend's was adopted (the handle names none): it makes its objects
          // as for any other object.
          const backend = `${step.name.split('/')[0] ?? step.name}/`;
          const handle = obj.backend_handle as Record<string, unknown>;
          if (!Object.keys(handle).some((k) => k.startsWith(backend))) continue;
          if (!step.adopt) {
            throw new Error(`${step.name} cannot adopt backend objects (it has no adopt)`);
          }
          const said = await step.adopt(obj, this.ctx);
          stat.runs++;
          if (said) adopted.push(label(step, said));
        } catch (err) {
          stat.runs++;
          stat.errors++;
          this.stats.errors++;
          await this.fail(key, obj, new Error(`adopt: ${label(step, errorText(err))}`));
          this.wakeWaiters(key);
          return;
        }
      }
      if (management === 'create-only') {
        // It exists: adopted counts as created.
        this.stats.reconciles++;
        await this.status(obj, {
          backend_code: 1,
          backend_status: `adopted: ${adopted.join('; ') || 'nothing to mark'}`,
          synced_version: obj.version,
          failures: 0,
          next_attempt_at: null,
        });
        this.wakeWaiters(key);
        return;
      }
      done.push(`adopted: ${adopted.join('; ') || 'nothing to mark'}`);
    }
    for (const step of steps) {
      const started = process.hrtime.bigint();
      const stat = this.stepStat(step.name);
      let outcome: 'ok' | 'error' | 'waiting' = 'error';
      try {
        done.push(label(step, await step.sync(obj, this.ctx)));
        outcome = 'ok';
        stat.runs++;
      } catch (err) {
        stat.runs++;
        if (err instanceof WaitingError) {
          outcome = 'waiting';
          this.stats.waits++;
          await this.status(obj, { backend_code: 0, backend_status: label(step, err.message) });
          this.queue.addAfter(key, err.retryMs);
          return;
        }
        this.stats.errors++;
        stat.errors++;
        await this.fail(key, obj, several ? new Error(label(step, errorText(err))) : err);
        this.wakeWaiters(key); // dependents now show the error they wait on
        return;
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        stat.seconds += seconds;
        this.options.onReconcile?.(step.name, outcome, seconds);
      }
    }
    this.stats.reconciles++;
    await this.status(obj, {
      backend_code: 1,
      backend_status: done.join('; '),
      synced_version: obj.version,
      failures: 0,
      next_attempt_at: null,
    });
    this.wakeWaiters(key);
  }

  /**
   * management_policy observe: every step reads its backend objects (never writes them) and the
   * sentences become the status; read again every observeMs. No dependency is waited for: what
   * is read is there or not, whatever the models say. A step that cannot observe is an error.
   */
  private async observe(key: Key, obj: ModelObject, steps: SyncStep[]): Promise<void> {
    const several = steps.length > 1;
    const label = (step: SyncStep, text: string) =>
      several ? `${step.name.split('/')[0] ?? step.name}: ${text}` : text;
    const seen: string[] = [];
    for (const step of steps) {
      const started = process.hrtime.bigint();
      const stat = this.stepStat(step.name);
      let outcome: 'ok' | 'error' | 'waiting' = 'error';
      try {
        if (!step.observe) {
          throw new Error(
            `management_policy is observe, but ${step.name} cannot observe its backend objects (set full or create-only)`,
          );
        }
        seen.push(label(step, await step.observe(obj, this.ctx)));
        outcome = 'ok';
      } catch (err) {
        if (err instanceof WaitingError) {
          outcome = 'waiting';
          this.stats.waits++;
          await this.status(obj, { backend_code: 0, backend_status: label(step, err.message) });
          this.queue.addAfter(key, err.retryMs);
          return;
        }
        stat.errors++;
        this.stats.errors++;
        await this.fail(key, obj, new Error(`observe: ${label(step, errorText(err))}`));
        this.wakeWaiters(key);
        return;
      } finally {
        stat.runs++;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        stat.seconds += seconds;
        this.options.onReconcile?.(step.name, outcome, seconds);
      }
    }
    this.stats.reconciles++;
    await this.status(obj, {
      backend_code: 1,
      backend_status: `observed: ${seen.join('; ')}`,
      failures: 0,
      next_attempt_at: null,
    });
    this.wakeWaiters(key);
    this.queue.addAfter(key, this.options.observeMs ?? 60_000);
  }

  /**
   * Runs the object's model policy in one transaction with the policy's bookkeeping, so that the
   * lower models it derives and `policed_version` commit together: a crash mid-policy leaves
   * neither, and the policy runs again. Returns the object as it now is, or undefined when the
   * policy failed (recorded in policy_code/policy_status, retried with backoff).
   */
  private async police(
    key: Key,
    policy: ModelPolicy,
    obj: ModelObject,
  ): Promise<ModelObject | undefined> {
    const started = process.hrtime.bigint();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const done = await this.models.transaction(async (tx) => {
        const current = await tx.get(obj.leaf_model, obj.id, { lock: true });
        if (current.version !== obj.version) return undefined; // edited meanwhile: queued again
        const sentence = await policy.handle(current, tx);
        return tx.setStatus(obj.leaf_model, obj.id, {
          policed_version: current.version,
          policy_code: 1,
          policy_status: sentence,
        });
      });
      outcome = 'ok';
      this.policyFailures.delete(key);
      return done;
    } catch (err) {
      const failures = (this.policyFailures.get(key) ?? 0) + 1;
      this.policyFailures.set(key, failures);
      const delay = backoffMs(failures, this.options.backoff?.baseMs, this.options.backoff?.maxMs);
      const message = err instanceof Error ? err.message : String(err);
      await this.status(obj, {
        backend_code: 0,
        backend_status: `waiting for its policy ${policy.name} to succeed`,
      });
      await this.models
        .setStatus(obj.leaf_model, obj.id, {
          policy_code: 2,
          policy_status: `error: ${message.split('\n')[0] ?? message}`.slice(0, 2000),
        })
        .catch(() => undefined);
      this.log(`${key}: policy ${policy.name} failed: ${message}`);
      this.queue.addAfter(key, delay);
      return undefined;
    } finally {
      this.options.onReconcile?.(
        policy.name,
        outcome,
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  }
  private readonly policyFailures = new Map<Key, number>();

  /** A failure recorded at version v with synced_version < v; an edit since bumps version. */
  private editedSinceFailure(obj: ModelObject): boolean {
    // The failure's status write keeps `version`; the engine notes the version it failed at.
    return this.failedAt.get(keyOf(obj.leaf_model, obj.id)) !== obj.version;
  }
  private readonly failedAt = new Map<Key, number>();

  private async fail(key: Key, obj: ModelObject, err: unknown): Promise<void> {
    const failures = ((obj.failures as number | null) ?? 0) + 1;
    const delay = backoffMs(failures, this.options.backoff?.baseMs, this.options.backoff?.maxMs);
    const message = err instanceof Error ? err.message : String(err);
    const sentence = `error: ${message.split('\n')[0] ?? message}`;
    this.failedAt.set(key, obj.version);
    await this.status(obj, {
      backend_code: 2,
      backend_status: sentence.slice(0, 2000),
      failures,
      next_attempt_at: new Date(Date.now() + delay).toISOString(),
    });
    this.log(`${key}: ${sentence} (retry in ${String(Math.round(delay / 100) / 10)} s)`);
    this.queue.addAfter(key, delay);
  }

  /**
   * The first object this one refers to that is not yet synced at its current version, as the
   * sentence the operator sees; undefined when every dependency is ready. The object is queued
   * again when that dependency syncs.
   */
  private async unmetDependency(obj: ModelObject, key: Key): Promise<string | undefined> {
    // Breadth first through the references; an object whose model has no step is looked
    // through (a pod's Slice has no step, but the Slice's TrustDomain's namespace must exist).
    const seen = new Set<Key>([key]);
    let frontier: ModelObject[] = [obj];
    for (let depth = 0; depth < 4 && frontier.length; depth++) {
      const next: ModelObject[] = [];
      for (const from of frontier) {
        const m = this.registry.get(from.leaf_model);
        for (const [field, def] of Object.entries(m.allFields)) {
          if (def.type !== 'reference' || !def.reference) continue;
          const depId = from[columnOf(field, def)];
          if (typeof depId !== 'number' || !this.reachesStep(def.reference.model)) continue;
          let dep: ModelObject;
          try {
            dep = await this.models.get(def.reference.model, depId, { includeDeleted: true });
          } catch (err) {
            if (err instanceof NotFoundError) {
              return `waiting for ${def.reference.model} ${String(depId)}, which does not exist`;
            }
            throw err;
          }
          const depKey = keyOf(dep.leaf_model, dep.id);
          if (seen.has(depKey)) continue;
          seen.add(depKey);
          if (this.stepsFor(dep.leaf_model).length === 0) {
            next.push(dep);
            continue;
          }
          const label = `${dep.leaf_model} ${typeof dep.name === 'string' ? dep.name : String(dep.id)}`;
          let why: string | undefined;
          if (dep.deleted_at !== null) why = `waiting for ${label}, which is being deleted`;
          else if (ready(dep)) why = undefined;
          else if (dep.backend_code === 2)
            why = `waiting for ${label} (${String(dep.backend_status)})`;
          else why = `waiting for ${label} (pending)`;
          if (why) {
            let set = this.waiters.get(depKey);
            if (!set) this.waiters.set(depKey, (set = new Set()));
            set.add(key);
            // The dependency may have synced (and woken its waiters) between the read above and
            // the registration: read it again now that a later sync will wake this object.
            const again = await this.models
              .get(dep.leaf_model, dep.id, { includeDeleted: true })
              .catch(() => undefined);
            if (again && ready(again)) {
              set.delete(key);
              continue;
            }
            return why;
          }
        }
      }
      frontier = next;
    }
    return undefined;
  }

  /** Whether a model, or something it refers to (transitively), has a step. */
  private reachesStep(model: string, seen = new Set<string>()): boolean {
    const known = this.reaches.get(model);
    if (known !== undefined) return known;
    if (seen.has(model)) return false;
    seen.add(model);
    const m = this.registry.get(model);
    let result = m.family.some((f) => this.stepsFor(f).length > 0);
    for (const name of result ? [] : m.family) {
      for (const def of Object.values(this.registry.get(name).allFields)) {
        if (
          def.type === 'reference' &&
          def.reference &&
          this.reachesStep(def.reference.model, seen)
        ) {
          result = true;
          break;
        }
      }
      if (result) break;
    }
    if (seen.size === 1) this.reaches.set(model, result);
    return result;
  }
  private readonly reaches = new Map<string, boolean>();

  private wakeWaiters(key: Key): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    // Ahead of the queue: they were taken once and held back only by this object.
    for (const k of set) this.queue.addFirst(k);
  }

  /** Deleted: dependents go first; then the step tears the backend down; then the row is reaped. */
  private async teardown(key: Key, obj: ModelObject): Promise<void> {
    const dependents = await this.models.dependents(obj.leaf_model, obj.id);
    if (dependents.length) {
      for (const d of dependents) {
        const set = this.waiters.get(keyOf(d.model, d.id)) ?? new Set<Key>();
        set.add(key);
        this.waiters.set(keyOf(d.model, d.id), set);
      }
      const first = dependents[0]!;
      await this.status(obj, {
        backend_code: 0,
        backend_status: `deleting: waiting for ${first.model} ${String(first.id)}${dependents.length > 1 ? ` and ${String(dependents.length - 1)} more` : ''} to be removed first`,
      });
      return;
    }
    // An observed object's backend is not Syncord's to write: it stays as it is. If Syncord made
    // it before the object was switched to observe, it still carries the owner marks, which
    // come off (or the backends' sweeps would remove it as a stray once the model is gone).
    const observed = managementOf(obj) === 'observe';
    if (obj.no_sync !== true && (!observed || created(obj))) {
      const orphan = observed || obj.deletion_policy === 'orphan';
      // Torn down (or let go of) in the reverse order of setting up.
      for (const step of [...this.stepsFor(obj.leaf_model)].reverse()) {
        const stat = this.stepStat(step.name);
        try {
          if (!orphan) await step.delete(obj, this.ctx);
          else if (step.release) await step.release(obj, this.ctx);
          else if (observed) {
            throw new Error(
              `${step.name} cannot take its owner marks off what it made before the object was observed (set management_policy full to tear it down)`,
            );
          } else {
            throw new Error(
              `deletion_policy is orphan, but ${step.name} cannot take its owner marks off (set its deletion_policy to delete to tear it down)`,
            );
          }
          stat.runs++;
        } catch (err) {
          stat.runs++;
          stat.errors++;
          this.stats.errors++;
          await this.fail(key, obj, err);
          return;
        }
      }
    }
    try {
      await this.models.reap(obj.leaf_model, obj.id);
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.release(key);
        return;
      }
      throw err;
    }
    this.stats.reaped++;
    this.release(key);
    // What it referred to may be waiting for it to go.
    const m = this.registry.get(obj.leaf_model);
    for (const [field, def] of Object.entries(m.allFields)) {
      if (def.type !== 'reference' || !def.reference) continue;
      const target = obj[columnOf(field, def)];
      if (typeof target === 'number') this.queue.add(keyOf(def.reference.model, target));
    }
  }

  private release(key: Key): void {
    this.failedAt.delete(key);
    this.wakeWaiters(key);
  }

  /** Whether a status write would change nothing the object shows. */
  private unchanged(obj: ModelObject, s: Parameters<ModelService['setStatus']>[2]): boolean {
    return (
      (s.backend_code === undefined || s.backend_code === obj.backend_code) &&
      (s.backend_status === undefined || s.backend_status === obj.backend_status) &&
      (s.synced_version === undefined || s.synced_version === obj.synced_version) &&
      (s.failures === undefined || s.failures === obj.failures) &&
      (s.next_attempt_at === undefined ||
        (s.next_attempt_at === null ? obj.next_attempt_at === null : false))
    );
  }

  private async status(
    obj: ModelObject,
    s: Parameters<ModelService['setStatus']>[2],
  ): Promise<void> {
    if (this.unchanged(obj, s)) return;
    // Concurrent workers' status writes go in one statement (the cached service).
    await this.models.writeStatus(obj.leaf_model, obj.id, s);
  }

  private stepStat(name: string) {
    let s = this.stepStats.get(name);
    if (!s) this.stepStats.set(name, (s = { runs: 0, errors: 0, seconds: 0 }));
    return s;
  }
}
