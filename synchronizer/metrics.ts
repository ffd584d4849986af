// Prometheus metrics of the synchronizer (prom-client), in a registry of their own so that tests
// and several servers in one process do not collide. deploy/monitoring/README.md describes them
// for operators, with the alerts (deploy/helm/syncord/files/prometheus-rules.yaml) and the
// dashboard built on them; test/deploy/monitoring.test.ts checks that every name those use is
// in a real scrape.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import client from 'prom-client';
import { PACKAGE_ROOT } from '../models/package-root.js';
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

/** How long the objects' counts read from the database serve scrapes before being read again. */
export const OBJECTS_CACHE_MS = 10_000;

/** Syncord's version, from its package.json ('unknown' if that cannot be read). */
function syncordVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A row of the objects' query: live objects of a model with a backend_code. */
interface ObjectsRow {
  model: string;
  code: number;
  n: number;
  /** For code 2: how long the object longest in error has been (seconds); else null. */
  oldest_error_s: number | null;
}

/**
 * The live objects of one model table by model and backend_code; for the objects in error, the
 * age of the oldest error. No column says when an object's status last changed (status writes
 * leave updated_at alone), so an object's error started at its status history's oldest entry
 * (migrations/1795500000000-StatusHistory.ts) after the last one that was not an error: every
 * failed retry adds an entry, so the run of errors is unbroken while it lasts. Once the history's
 * retention has removed the start of a long run (at most 100 entries an object), the age is that
 * of the oldest entry left, an underestimate; an object with no entry at all (history pruned
 * away) falls back to updated_at, its last edit. Both look-ups are on the history's index by
 * object and run for the objects in error only.
 */
function objectsQuery(root: { table: string; polymorphic: boolean }): string {
  // $1 the table's name (as the history names it), $2 its model's.
  return `
    SELECT model, code, count(*)::int AS n,
           greatest(0, extract(epoch FROM now() - min(since)))::float8 AS oldest_error_s
      FROM (SELECT ${root.polymorphic ? 'coalesce(t.leaf_model, $2::text)' : '$2::text'} AS model,
                   t.backend_code AS code,
                   CASE WHEN t.backend_code = 2 THEN coalesce(
                     (SELECT min(h.at) FROM syncord_status_history h
                       WHERE h.model_table = $1 AND h.object_id = t.id AND h.backend_code = 2
                         AND h.id > coalesce(
                           (SELECT max(p.id) FROM syncord_status_history p
                             WHERE p.model_table = $1 AND p.object_id = t.id
                               AND p.backend_code <> 2), 0)),
                     t.updated_at) END AS since
              FROM "${root.table}" t WHERE t.deleted_at IS NULL) o
     GROUP BY 1, 2`;
}

/**
 * The metrics named in DESIGN.md: queue depth, reconciles and their latency per step and outcome,
 * objects by backend_code per model and the age of the oldest error (read from the database at
 * scrape time, at most every 10 s), whether this replica leads, and the build.
 */
export function syncMetrics(
  models: ModelService,
  modelRegistry: ModelRegistry,
  options: { sync?: boolean } = {},
): SyncMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'syncord_process_' });
  let engine: Engine | undefined;

  new client.Gauge({
    name: 'syncord_build_info',
    help: 'Always 1; the label version is the Syncord release this process runs.',
    labelNames: ['version'] as const,
    registers: [registry],
  }).set({ version: syncordVersion() }, 1);

  const depth = new client.Gauge({
    name: 'syncord_queue_depth',
    help:
      'Objects in the work queue ready to be reconciled now (not counting the delayed and the ' +
      'in-flight ones). Only the leader has a queue: 0 on a standby or an API-only replica.',
    registers: [registry],
    collect() {
      this.set(engine?.queue.depth ?? 0);
    },
  });
  new client.Gauge({
    name: 'syncord_queue_delayed',
    help:
      'Objects in the work queue waiting for a time: the retry of a failed reconcile (backoff) ' +
      'or a dependency. 0 unless this replica leads.',
    registers: [registry],
    collect() {
      this.set(engine?.queue.delayedCount ?? 0);
    },
  });
  new client.Gauge({
    name: 'syncord_queue_in_flight',
    help: 'Objects being reconciled by a worker now. 0 unless this replica leads.',
    registers: [registry],
    collect() {
      this.set(engine?.queue.inFlight ?? 0);
    },
  });
  const reconciles = new client.Counter({
    name: 'syncord_reconcile_total',
    help:
      'Reconciles this process ran since it started, by step (a sync step or a model policy) ' +
      'and outcome: ok, error (the object is in error and retried with backoff) or waiting ' +
      '(for a dependency).',
    labelNames: ['step', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'syncord_reconcile_duration_seconds',
    help: 'Seconds a step took to reconcile one object, whatever the outcome, by step.',
    labelNames: ['step'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const leader = new client.Gauge({
    name: 'syncord_leader',
    help:
      '1 while this replica holds the synchronizer leader lock (and synchronizes), else 0. ' +
      'Standbys report 0; API-only replicas (--role api) do not report it: at most one ' +
      'replica of a database reports 1.',
    // An API-only replica never campaigns: its 0 would read as a standby.
    registers: options.sync === false ? [] : [registry],
  });
  leader.set(0);

  // One read of the database serves both gauges below, at most every OBJECTS_CACHE_MS; the
  // gauges of one scrape are collected concurrently and share the read in progress.
  let cache: { at: number; rows: ObjectsRow[] } | undefined;
  let reading: Promise<ObjectsRow[]> | undefined;
  const objectRows = async (): Promise<ObjectsRow[]> => {
    if (cache && Date.now() - cache.at <= OBJECTS_CACHE_MS) return cache.rows;
    reading ??= (async () => {
      try {
        const rows: ObjectsRow[] = [];
        for (const root of modelRegistry.tables()) {
          const r = await models.pool.query<ObjectsRow>(objectsQuery(root), [
            root.table,
            root.name,
          ]);
          rows.push(...r.rows);
        }
        cache = { at: Date.now(), rows };
        return rows;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  new client.Gauge({
    name: 'syncord_objects',
    help:
      'Live (not deleted) objects by model and backend_code: 0 pending, 1 ok (synchronized), ' +
      '2 error. Read from the database, at most every 10 s; every replica reports the same.',
    labelNames: ['model', 'backend_code'] as const,
    registers: [registry],
    async collect() {
      const rows = await objectRows();
      this.reset();
      for (const row of rows) {
        this.set({ model: row.model, backend_code: String(row.code) }, row.n);
      }
    },
  });
  new client.Gauge({
    name: 'syncord_objects_error_oldest_seconds',
    help:
      'Seconds the live object of this model longest in error (backend_code 2) has been in ' +
      'error without a break, from its status history; 0 when none is. Grows while the same ' +
      'object stays in error. Read from the database, at most every 10 s.',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      const rows = await objectRows();
      this.reset();
      const oldest = new Map<string, number>();
      for (const row of rows) {
        const age = row.code === 2 ? (row.oldest_error_s ?? 0) : 0;
        oldest.set(row.model, Math.max(oldest.get(row.model) ?? 0, age));
      }
      for (const [model, age] of oldest) this.set({ model }, Math.round(age * 1000) / 1000);
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
