// Prometheus metrics of the synchronizer (prom-client), in a registry of their own so that tests
// and several servers in one process do not collide.
import client from 'prom-client';
import type { Registry as ModelRegistry } from '../models/registry.js';
import type { ModelService } from '../models/service.js';
import type { Engine } from './engine.js';

export interface SyncMetrics {
  registry: client.Registry;
  observeReconcile(step: string, outcome: 'ok' | 'error' | 'waiting', seconds: number): void;
  setEngine(engine: Engine | undefined): void;
  setLeader(leading: boolean): void;
  /** The figures the GUI's dashboard shows, read from these metrics in-process. */
  figures(): Promise<SyncFigures>;
}

export interface SyncFigures {
  leader: boolean;
  /** Objects ready in the work queue (syncord_queue_depth). */
  queue_depth: number;
  /** Reconciles since the process started, by outcome (syncord_reconcile_total). */
  reconciles: { ok: number; error: number };
}

/**
 * The metrics named in DESIGN.md: queue depth, reconciles and their latency per step and outcome,
 * objects by backend_code per model (read from the database at scrape time, at most every 10 s),
 * and whether this replica leads.
 */
export function syncMetrics(models: ModelService, modelRegistry: ModelRegistry): SyncMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'syncord_process_' });
  let engine: Engine | undefined;

  const depth = new client.Gauge({
    name: 'syncord_queue_depth',
    help: 'Objects waiting in the work queue (ready to process, not counting delayed retries).',
    registers: [registry],
    collect() {
      this.set(engine?.queue.depth ?? 0);
    },
  });
  new client.Gauge({
    name: 'syncord_queue_delayed',
    help: 'Objects waiting for a retry time (backoff) or a dependency.',
    registers: [registry],
    collect() {
      this.set(engine?.queue.delayedCount ?? 0);
    },
  });
  new client.Gauge({
    name: 'syncord_queue_in_flight',
    help: 'Objects being reconciled now.',
    registers: [registry],
    collect() {
      this.set(engine?.queue.inFlight ?? 0);
    },
  });
  const reconciles = new client.Counter({
    name: 'syncord_reconcile_total',
    help: 'Reconciles by step and outcome (ok, error, waiting).',
    labelNames: ['step', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'syncord_reconcile_duration_seconds',
    help: 'Time a step took to reconcile one object.',
    labelNames: ['step'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const leader = new client.Gauge({
    name: 'syncord_leader',
    help: '1 when this replica holds the synchronizer leader lock.',
    registers: [registry],
  });
  leader.set(0);

  let cache: { at: number; rows: { model: string; code: number; n: number }[] } | undefined;
  new client.Gauge({
    name: 'syncord_objects',
    help: 'Live objects by model and backend_code (0 pending, 1 ok, 2 error).',
    labelNames: ['model', 'backend_code'] as const,
    registers: [registry],
    async collect() {
      if (!cache || Date.now() - cache.at > 10_000) {
        const rows: { model: string; code: number; n: number }[] = [];
        for (const root of modelRegistry.tables()) {
          const r = await models.pool.query<{ model: string; code: number; n: number }>(
            `SELECT ${root.polymorphic ? 'leaf_model' : `'${root.name}'`} AS model,
                    backend_code AS code, count(*)::int AS n
               FROM "${root.table}" WHERE deleted_at IS NULL GROUP BY 1, 2`,
          );
          rows.push(...r.rows);
        }
        cache = { at: Date.now(), rows };
      }
      this.reset();
      for (const row of cache.rows) {
        this.set({ model: row.model, backend_code: String(row.code) }, row.n);
      }
    },
  });

  return {
    registry,
    observeReconcile(step, outcome, seconds) {
      reconciles.inc({ step, outcome });
      latency.observe({ step }, seconds);
    },
    setEngine(e) {
      engine = e;
    },
    setLeader(leading) {
      leader.set(leading ? 1 : 0);
    },
    async figures() {
      // get() runs each gauge's collect(), as a scrape would.
      const [runs, lead, queued] = await Promise.all([reconciles.get(), leader.get(), depth.get()]);
      const total = (outcome: string) =>
        runs.values
          .filter((v) => v.labels.outcome === outcome)
          .reduce((sum, v) => sum + v.value, 0);
      return {
        leader: (lead.values[0]?.value ?? 0) === 1,
        queue_depth: queued.values[0]?.value ?? 0,
        reconciles: { ok: total('ok'), error: total('error') },
      };
    },
  };
}
