// What the fault tests share: the outage's length, a recorder of the statuses objects show while
// a fault lasts, and waits with the object's status in their failure.
import { expect } from 'chai';
import type { ModelService } from '../../models/service.js';
import { eventually } from '../support/rig.js';

/** SYNCORD_FAULTS_FULL=1: the issue's 30 s outages; else short ones, so CI stays quick. */
export const FULL = process.env.SYNCORD_FAULTS_FULL === '1';
export const OUTAGE_MS = FULL ? 30_000 : 8_000;
export const OUTAGE = `${String(OUTAGE_MS / 1000)} s${FULL ? '' : ' (SYNCORD_FAULTS_FULL=1: 30 s)'}`;

export interface Seen {
  model: string;
  id: number;
  backend_code: number;
  backend_status: string;
  failures: number;
  next_attempt_at: string | null;
  at: number;
}

/**
 * Polls the statuses of some objects while a fault lasts and keeps every distinct one (by code,
 * sentence and failure count): what an operator watching the GUI would have seen.
 */
/** Recorders still polling: a test that failed half-way leaves its own for stopRecorders(). */
const running = new Set<StatusRecorder>();

/** Stops every recorder still polling (for after hooks: a failed test does not stop its own). */
export async function stopRecorders(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

/** A pause that never keeps the process alive on its own. */
const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class StatusRecorder {
  readonly seen: Seen[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly svc: ModelService,
    private readonly objects: () => { model: string; id: number }[],
    private readonly everyMs = 250,
  ) {}

  start(): void {
    running.add(this);
    this.running = (async () => {
      while (!this.stopped) {
        for (const { model, id } of this.objects()) {
          const o = await this.svc.get(model, id, { includeDeleted: true }).catch(() => undefined);
          if (!o) continue;
          const s: Seen = {
            model,
            id,
            backend_code: Number(o.backend_code),
            backend_status: typeof o.backend_status === 'string' ? o.backend_status : '',
            failures: Number(o.failures ?? 0),
            next_attempt_at:
              o.next_attempt_at instanceof Date
                ? o.next_attempt_at.toISOString()
                : typeof o.next_attempt_at === 'string'
                  ? o.next_attempt_at
                  : null,
            at: Date.now(),
          };
          const last = this.seen.findLast((x) => x.model === model && x.id === id);
          if (
            !last ||
            last.backend_code !== s.backend_code ||
            last.backend_status !== s.backend_status ||
            last.failures !== s.failures
          ) {
            this.seen.push(s);
          }
        }
        await pause(this.everyMs);
      }
    })();
  }

  async stop(): Promise<Seen[]> {
    this.stopped = true;
    running.delete(this);
    await this.running;
    return this.seen;
  }

  /** The errors seen, each retrying (failures counted, a next attempt in the future of then). */
  errors(): Seen[] {
    return this.seen.filter((s) => s.backend_code === 2);
  }

  summary(): string {
    return this.seen
      .map(
        (s) =>
          `${s.model} ${String(s.id)} [${String(s.backend_code)}] ${s.backend_status} (failures ${String(s.failures)}, next ${String(s.next_attempt_at)})`,
      )
      .join('\n');
  }
}

/**
 * The fault was visible: some object was in error with a sentence matching `backend`, counting
 * its failures, with a next attempt scheduled (retrying, not given up).
 */
export function expectOutageShown(rec: StatusRecorder, backend: RegExp): Seen {
  const errors = rec.errors();
  const named = errors.filter((e) => backend.test(e.backend_status));
  expect(named, `an error naming the backend (${String(backend)}) among:\n${rec.summary()}`).to.not
    .be.empty;
  const retrying = named.find((e) => e.failures >= 1 && e.next_attempt_at !== null);
  expect(retrying, `an error with failures and next_attempt_at among:\n${rec.summary()}`).to.not.be
    .undefined;
  const s = retrying!;
  expect(Date.parse(s.next_attempt_at!)).to.be.greaterThan(s.at - 60_000);
  return s;
}

/** Waits for an object to be synced at its version; on timeout, says where it stands. */
export async function syncedNow(
  svc: ModelService,
  model: string,
  id: number,
  timeoutMs: number,
  log: string[] = [],
): Promise<void> {
  try {
    await eventually(
      `${model} ${String(id)} synced`,
      async () => {
        const o = await svc.get(model, id);
        return o.backend_code === 1 && o.synced_version === o.version ? true : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    const o = await svc.get(model, id).catch(() => undefined);
    throw new Error(
      `${(err as Error).message}; it is at ${o ? `backend_code ${String(o.backend_code)}: ${String(o.backend_status)}` : 'no row'}; log: ${log.slice(-8).join(' | ')}`,
      { cause: err },
    );
  }
}

/** Waits until a deleted object's row is reaped (its backend teardown done). */
export async function reaped(
  svc: ModelService,
  model: string,
  id: number,
  timeoutMs: number,
): Promise<void> {
  await eventually(
    `${model} ${String(id)} reaped`,
    async () => {
      try {
        await svc.get(model, id, { includeDeleted: true });
        return undefined;
      } catch {
        return true;
      }
    },
    timeoutMs,
  );
}
