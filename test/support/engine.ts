// The Engine the backends' step tests run: the test's scratch database and steps, four workers,
// no periodic resync (the tests call resync() when they want one), a quick backoff, observed
// objects read every half second, and every line it logs kept in the test's log. Started.
import { Engine, type EngineOptions, type SyncStep } from '../../synchronizer/engine.js';
import type { ScratchDb } from './db.js';

export async function startTestEngine(
  db: ScratchDb,
  steps: SyncStep[],
  log: string[],
  options: Partial<EngineOptions> = {},
): Promise<Engine> {
  const engine = new Engine(db.registry, db.service, steps, {
    url: db.url,
    workers: 4,
    resyncMs: 60 * 60_000,
    observeMs: 500,
    backoff: { baseMs: 300, maxMs: 1000 },
    log: (line) => log.push(line),
    ...options,
  });
  await engine.start();
  return engine;
}
