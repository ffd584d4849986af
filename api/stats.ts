// GET /api/v1/stats: the dashboard's figures. Objects by status per model (models/status.ts:
// one statement per table), and the synchronizer's own figures, which only the serving process
// knows (its Prometheus metrics, read in-process).
import type { Registry } from '../models/registry.js';
import type { ModelService } from '../models/service.js';
import { countByStatus, type StatusCounts } from '../models/status.js';
import { ADMIN_MODELS, type Authenticator, type Principal } from './auth.js';
import { visibleIds } from './scope.js';

export interface SynchronizerStats {
  /** Whether this process holds the leader lock (and so synchronizes). */
  leader: boolean;
  /** Objects ready in the work queue. */
  queue_depth: number;
  /** Reconciles since the process started, by outcome. */
  reconciles: { ok: number; error: number };
  /** Seconds since the process started serving. */
  uptime_s: number;
}

export type SynchronizerFigures = () => Promise<SynchronizerStats>;

const IDLE: SynchronizerStats = {
  leader: false,
  queue_depth: 0,
  reconciles: { ok: 0, error: 0 },
  uptime_s: 0,
};

/**
 * Counts of the models the caller may read; for a caller limited to a trust domain, of the
 * objects it may see (the others are not counted: counts would tell of them).
 */
export async function stats(
  models: ModelService,
  registry: Registry,
  auth: Authenticator,
  who: Principal,
  synchronizer: SynchronizerFigures | undefined,
): Promise<{ models: Record<string, StatusCounts>; synchronizer: SynchronizerStats }> {
  const readable = registry
    .models()
    .map((m) => m.name)
    .filter((m) => who.role === 'admin' || !ADMIN_MODELS.has(m));
  const only = auth.seesAll(who)
    ? undefined
    : await visibleIds(
        models,
        registry,
        auth,
        who,
        registry
          .tables()
          .map((t) => t.name)
          .filter((t) => readable.includes(t)),
      );
  const [counts, sync] = await Promise.all([
    countByStatus(models.pool, registry, { models: readable, ...(only ? { only } : {}) }),
    synchronizer ? synchronizer() : Promise.resolve(IDLE),
  ]);
  return { models: Object.fromEntries(counts), synchronizer: sync };
}
