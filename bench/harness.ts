// What every benchmark shares: the figures it reports (each against a floor measured in the same
// run, never against a fixed number of seconds), the verdict on its target, and small tools for
// measuring: a clock, the median, bounded concurrency, a peak-RSS sampler, scratch databases.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { migrate, openDataSource, withScratchDatabase } from '../models/datasource.js';
import { ModelService, type ModelObject } from '../models/service.js';
import { Engine, type SyncStep } from '../synchronizer/engine.js';
import type { Registry } from '../models/registry.js';

/**
 * A bound on ratio = value / floor: `>=` for throughputs, `<` for times. With `absolute`, the
 * bound is on the value itself, in its unit (an issue's fixed bound, e.g. RSS under 400 MiB):
 * `ratio` is then that number.
 */
export interface Target {
  op: '>=' | '<';
  ratio: number;
  absolute?: boolean;
}

/** One measured figure, as a benchmark reports it. */
export interface Figure {
  figure: string;
  value: number;
  /** e.g. "objects/s", "ms", "MB". */
  unit: string;
  /** The baseline measured in the same run, in the same unit; absent when there is none. */
  floor?: number;
  target?: Target;
}

/** A figure with its ratio and verdict, as the runner prints it. */
export interface Result {
  bench: string;
  n: number;
  figure: string;
  value: number;
  unit: string;
  floor: number | null;
  /** value / floor; null without a floor. */
  ratio: number | null;
  target: Target | null;
  /** null when the figure has no target. */
  met: boolean | null;
}

export interface BenchContext {
  /** The PostgreSQL server; benchmarks work in scratch databases on it, never in its data. */
  serverUrl: string;
  /** How many objects (the scale). */
  n: number;
  /** Progress, to stderr. */
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  /** One line for `--help`. */
  summary: string;
  defaultScale: number;
  /** The scales `npm run bench` runs it at when there are several (default: [defaultScale]). */
  defaultScales?: number[];
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function toResult(bench: string, n: number, f: Figure): Result {
  const floor = f.floor ?? null;
  // 0 against a floor of 0 (no backend request at N nor at the small N) is no growth: ratio 1.
  const ratio =
    floor !== null && floor > 0 ? f.value / floor : floor === 0 && f.value === 0 ? 1 : null;
  const target = f.target ?? null;
  let met: boolean | null = null;
  if (target) {
    const measured = target.absolute ? f.value : ratio;
    met =
      measured !== null &&
      (target.op === '>=' ? measured >= target.ratio : measured < target.ratio);
  }
  return { bench, n, figure: f.figure, value: f.value, unit: f.unit, floor, ratio, target, met };
}

/** Milliseconds since an arbitrary origin, sub-millisecond precision. */
export const now = (): number => performance.now();

/** Runs `work` and returns its result with the milliseconds it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = now();
  const result = await work();
  return { ms: now() - start, result };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0 < p <= 100) by the nearest-rank method: a value that was measured. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of nothing');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${String(p)} is not in (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** Resolves after `ms` milliseconds. */
/** A positive integer from the environment (e.g. SYNCORD_BENCH_WORKERS), else the fallback. */
export function positiveEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${text}: a positive integer`);
  return n;
}

/** Milliseconds as "1.23 s", for the logs. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `work` for every item, at most `concurrency` at a time, in item order of start. */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** At most `concurrency` calls of `run` at once; the others wait their turn, in order. */
export class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes on
      else this.active--;
    }
  }
}

/** The process's resident set size, sampled every few milliseconds; `peak` is the highest seen. */
export class RssSampler {
  private peakBytes = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 10) {
    this.timer = setInterval(() => {
      this.sample();
    }, intervalMs);
    this.timer.unref();
  }

  sample(): void {
    this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss());
  }

  /** Stops sampling; the peak in MiB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakBytes / (1024 * 1024);
  }
}

/** Runs `work` in a new database on the server, migrated to the committed schema, then dropped. */
export function withMigratedScratch<T>(
  serverUrl: string,
  registry: Registry,
  work: (url: string) => Promise<T>,
): Promise<T> {
  return withScratchDatabase(serverUrl, async (url) => {
    const ds = await openDataSource(url, registry, { poolSize: 1 });
    try {
      await migrate(ds);
    } finally {
      await ds.destroy();
    }
    return work(url);
  });
}

/** CPU time from a start: the whole machine's (from /proc/stat) and this process's. */
export class CpuMeter {
  private readonly machine0 = CpuMeter.machineBusy();
  private readonly self0 = process.cpuUsage();
  private readonly procs0 = CpuMeter.processes();

  /** CPU seconds so far of every process on the machine, by pid, with its command. */
  private static processes(): Map<number, { comm: string; cpu: number }> {
    const out = new Map<number, { comm: string; cpu: number }>();
    try {
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          const close = stat.lastIndexOf(')');
          const comm = stat.slice(stat.indexOf('(') + 1, close);
          const f = stat.slice(close + 2).split(' ');
          out.set(Number(entry), { comm, cpu: (Number(f[11]) + Number(f[12])) / 100 });
        } catch {
          // gone meanwhile
        }
      }
    } catch {
      // no /proc
    }
    return out;
  }

  /** "kube-apiserver 3.1 s, postgres 1.2 s, ...": CPU by command, of the processes that lived throughout. */
  private byCommand(): string {
    const by = new Map<string, number>();
    for (const [pid, p] of CpuMeter.processes()) {
      const before = this.procs0.get(pid);
      if (!before || before.comm !== p.comm) continue;
      by.set(p.comm, (by.get(p.comm) ?? 0) + p.cpu - before.cpu);
    }
    return [...by]
      .filter(([, s]) => s >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([c, s]) => `${c} ${s.toFixed(1)} s`)
      .join(', ');
  }

  /** Busy CPU seconds of the whole machine (user, nice, system, irq, softirq), or NaN. */
  private static machineBusy(): number {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0);
      return busy / 100; // USER_HZ
    } catch {
      return NaN;
    }
  }

  /** "CPU: machine 5.2 s, this process 1.9 s (what it runs); by command: ...". */
  report(thisProcess = 'the engine and the bench'): string {
    const machine = CpuMeter.machineBusy() - this.machine0;
    const self = process.cpuUsage(this.self0);
    const mine = (self.user + self.system) / 1e6;
    return `CPU: machine ${machine.toFixed(1)} s, this process ${mine.toFixed(1)} s (${thisProcess}); by command: ${this.byCommand()}`;
  }
}

/**
 * Resolves once the engine has had nothing queued and nothing in flight for `quietMs`, with the
 * time (now()) that quiet began; rejects after `timeoutMs`.
 */
export async function untilIdle(
  engine: Engine,
  quietMs: number,
  timeoutMs = 300_000,
): Promise<number> {
  const started = now();
  let since: number | undefined;
  for (;;) {
    const t = now();
    if (engine.idle()) {
      since ??= t;
      if (t - since >= quietMs) return since;
    } else since = undefined;
    if (t - started > timeoutMs)
      throw new Error(`the engine was not idle within ${seconds(timeoutMs)}`);
    await sleep(5);
  }
}

/** The engine's reconciles by step and outcome (its onReconcile), for the log. */
export class ReconcileTally {
  private counts = new Map<string, { count: number; seconds: number }>();
  /** Per step: its batches (or single runs) and their time, counted once per batch. */
  private work = new Map<string, { batches: number; seconds: number; last: number }>();

  /** Called with every reconcile recorded (e.g. to time one object's sync). */
  listener: ((step: string, outcome: string, seconds: number) => void) | undefined;

  /** Pass as the engine's onReconcile. */
  readonly record = (step: string, outcome: string, seconds: number): void => {
    this.listener?.(step, outcome, seconds);
    const key = `${step} ${outcome}`;
    const o = this.counts.get(key) ?? { count: 0, seconds: 0 };
    o.count++;
    o.seconds += seconds;
    this.counts.set(key, o);
    // The engine reports each object of a batch with the batch's time, one after another with
    // nothing in between: the same step and the very same time is the same batch.
    const w = this.work.get(step) ?? { batches: 0, seconds: 0, last: NaN };
    if (w.last !== seconds) {
      w.batches++;
      w.seconds += seconds;
    }
    w.last = seconds;
    this.work.set(step, w);
  };

  reset(): void {
    this.counts = new Map();
    this.work = new Map();
  }

  /**
   * Per step, sorted: [step, batches (a run of an unbatched step is one), seconds the workers
   * spent in it]. Unlike entries()' seconds, a batch's time is counted once, not per object.
   */
  steps(): [string, number, number][] {
    return [...this.work]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, w]) => [k, w.batches, w.seconds]);
  }

  /** Per step and outcome, sorted: [key, runs, seconds in all]. */
  entries(): [string, number, number][] {
    return [...this.counts]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, o]) => [k, o.count, o.seconds]);
  }

  /** "ovn/port ok 5000 x 12.3 ms, ..." */
  summary(): string {
    return this.entries()
      .map(([k, count, s]) => `${k} ${String(count)} x ${((1000 * s) / count).toFixed(1)} ms`)
      .join(', ');
  }
}

/** What a benchmark's engine run has: the models, a side pool for polls, the engine and its tallies. */
export interface EngineRun<S> {
  url: string;
  svc: ModelService;
  /** Two connections for the bench's own polls, apart from the engine's pool. */
  sql: pg.Pool;
  engine: Engine;
  set: S;
  tally: ReconcileTally;
  /** The engine's first 200 log lines. */
  engineLog: string[];
  /** A Service named `<instance>-svc` to own instances. */
  service: ModelObject;
}

/**
 * A scratch database with an engine running the steps `makeSet` builds (given the engine's log),
 * as `syncord serve` runs them but with no periodic resync; stopped and dropped afterwards.
 */
export function withEngine<S extends { steps: SyncStep[] }, T>(
  ctx: BenchContext,
  registry: Registry,
  options: { instance: string; workers: number },
  makeSet: (log: (line: string) => void) => S,
  work: (run: EngineRun<S>) => Promise<T>,
): Promise<T> {
  return withMigratedScratch(ctx.serverUrl, registry, async (url) => {
    const svc = new ModelService(url, registry, { poolSize: 10 });
    const sql = new pg.Pool({ connectionString: url, max: 2 });
    sql.on('error', () => undefined);
    const engineLog: string[] = [];
    const remember = (line: string) => {
      if (engineLog.length < 200) engineLog.push(line);
    };
    const set = makeSet(remember);
    const tally = new ReconcileTally();
    const engine = new Engine(registry, svc, set.steps, {
      url,
      workers: options.workers,
      resyncMs: 24 * 3600_000,
      log: remember,
      onReconcile: tally.record,
    });
    try {
      const service = await svc.create('Service', { name: `${options.instance}-svc` });
      await engine.start();
      return await work({ url, svc, sql, engine, set, tally, engineLog, service });
    } finally {
      await engine.stop();
      await sql.end();
      await svc.close();
    }
  });
}

/** How one figure grows between the smallest and the largest N it was measured at. */
export interface Growth {
  bench: string;
  figure: string;
  unit: string;
  from: { n: number; value: number };
  to: { n: number; value: number };
  /**
   * The exponent k of the total cost's growth, cost ∝ N^k: of the value itself for times, sizes
   * and counts; for a rate (a unit per second), of N / rate, the time the N objects take.
   */
  exponent: number;
  /** constant (k < 0.2), sublinear (k < 0.9), linear (k ≤ 1.1) or superlinear. */
  verdict: 'constant' | 'sublinear' | 'linear' | 'superlinear';
}

/** The growth of every figure measured at two scales or more (none when all ran at one N). */
export function growthOf(results: readonly Result[]): Growth[] {
  const byFigure = new Map<string, Result[]>();
  for (const r of results) {
    const key = `${r.bench}\u0000${r.figure}`;
    byFigure.set(key, [...(byFigure.get(key) ?? []), r]);
  }
  const out: Growth[] = [];
  for (const rows of byFigure.values()) {
    const sorted = [...rows].sort((a, b) => a.n - b.n);
    const first = sorted[0]!;
    const last = sorted[sorted.length - 1]!;
    if (last.n === first.n) continue;
    // Nothing at either N (no request in a resync, say): it does not grow.
    const none = first.value === 0 && last.value === 0;
    if (!none && (!(first.value > 0) || !(last.value > 0))) continue;
    const scale = Math.log(last.n / first.n);
    const k = none ? 0 : Math.log(last.value / first.value) / scale;
    // A throughput that holds (k = 0) means a total time growing as N.
    const exponent = /\/s$/.test(first.unit) ? 1 - k : k;
    out.push({
      bench: first.bench,
      figure: first.figure,
      unit: first.unit,
      from: { n: first.n, value: first.value },
      to: { n: last.n, value: last.value },
      exponent,
      verdict:
        exponent < 0.2
          ? 'constant'
          : exponent < 0.9
            ? 'sublinear'
            : exponent <= 1.1
              ? 'linear'
              : 'superlinear',
    });
  }
  return out;
}
