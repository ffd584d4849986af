// `npm run bench -- serve`: `syncord serve` as operators run it, a process of its own (its default
// steps and workers, `--listen 127.0.0.1:0 --api-listen off`) on a scratch database seeded with N
// objects, with the rig's OVN, VTN and Kubernetes (the issue's figures for the whole service):
//
// - start → all ok: from the spawn of serve on the seeded database until every Network and Port
//   has backend_code 1 at its version (one SQL count every 200 ms). The objects are N/100 Networks
//   (OVN, a VNI each), one plain ServiceInstance per network and the rest Ports of those instances:
//   a plain ServiceInstance has no pod (steps/kubernetes/runtime.ts POD_MODELS), so its Ports
//   converge through OVN (logical switch ports) and VTN (service ports) only and need no kwok room.
//   N counts them all (networks + instances + ports). Floor: an empty serve's spawn → synchronizing.
// - peak RSS: the serve process's VmHWM (/proc/<pid>/status) after converging and an idle window,
//   against the same serve on an empty database after the same window; the issue's bound is
//   absolute (under 400 MB at 10,000 objects).
// - idle CPU: the process's utime + stime (/proc/<pid>/stat) over the idle window once quiet,
//   against the empty serve's.
// - backend requests per periodic resync: counted in the serve process by a probe loaded with
//   `--import` (a data: URL made here) that wraps the OVSDB client's transact and monitor, the VTN
//   client's calls and the Kubernetes client's requests, listens to OpenStack's (onRequest), and
//   writes its counts on SIGUSR2; one
//   periodic resync (a short `--resync`) from a quiet point to the next, at N and at SMALL_N (the
//   floor, a serve of its own run first, which also warms up tsx's cache for the others).
// - failover: a standby serve on the same database; the leader is killed with SIGKILL and a new
//   Port is created at once; from the kill until that Port is ok. Floor: the same creation with the
//   live leader, just before. The issue's bound is absolute (under 10 s).
//
// Every process is stopped at the end (SIGTERM, then SIGKILL), every OVN row and VTN object of the
// run's deployments (SYNCORD_INSTANCE bsv-<run>...) removed and the scratch databases dropped,
// also when the run fails.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { VtnClient } from '../backends/vtn/client.js';
import { purgeInstance } from './ovn.js';
import { purgeVtn } from './vtn.js';
import { defaultRegistry } from '../models/index.js';
import { ModelService, type ModelObject, type ModelTx } from '../models/service.js';
import {
  CpuMeter,
  now,
  seconds,
  sleep,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The small N whose periodic resync the one at N is compared with. */
const SMALL_N = 20;
/** One Network and one ServiceInstance per this many objects; the rest are Ports. */
const OBJECTS_PER_NETWORK = 100;
/** Rows per createMany call (all of them in one transaction). */
const BATCH = 500;
const CONVERGE_POLL_MS = 200;
/** A single Port's state is polled faster: the live-leader floor is a fraction of a second. */
const PORT_POLL_MS = 20;
const CONVERGE_TIMEOUT_MS = 20 * 60_000;
const START_TIMEOUT_MS = 120_000;
/** Quiet: queue empty, no reconcile and under QUIET_CPU of a CPU for this long. */
const QUIET_MS = 1000;
const QUIET_CPU = 0.05;
const QUIET_TIMEOUT_MS = 5 * 60_000;
/** The idle window at the default N, and at least this at small N. */
const IDLE_MAX_MS = 60_000;
const IDLE_MIN_MS = 5000;
/** The small run's resync period (s): converging 20 objects takes well under a second. */
const SMALL_RESYNC_S = 4;
const STOP_TIMEOUT_MS = 15_000;
const RSS_TARGET_MIB = 400;
const FAILOVER_TARGET_S = 10;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * How serve runs: `compiled` (default), as the container image runs it, `node dist/cli/syncord.js`
 * from `npm run build` (made here, incrementally, before the first serve); `tsx`
 * (SYNCORD_BENCH_SERVE=tsx), as `npm run syncord` runs it from the TypeScript sources, which costs
 * about 90 MiB more resident memory for the compiler and its cache.
 */
type ServeMode = 'compiled' | 'tsx';

function serveMode(): ServeMode {
  const v = process.env.SYNCORD_BENCH_SERVE ?? 'compiled';
  if (v !== 'compiled' && v !== 'tsx') {
    throw new Error(`SYNCORD_BENCH_SERVE is "${v}": it must be compiled or tsx`);
  }
  return v;
}

/** The compiled tree: `tsc` of the repo into dist/ (incremental: fast when nothing changed). */
const DIST = path.join(ROOT, 'dist');

function buildDist(log: (line: string) => void): void {
  const started = now();
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      path.join(ROOT, 'tsconfig.json'),
      '--incremental',
      '--tsBuildInfoFile',
      path.join(DIST, '.tsbuildinfo'),
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  log(
    `built dist/ with tsc in ${seconds(now() - started)} (serve runs compiled, as the image does)`,
  );
}

/** The node arguments that run the syncord CLI in a mode, the probe loaded first. */
function serveCommand(mode: ServeMode, probe: string): string[] {
  return mode === 'compiled'
    ? ['--import', probe, path.join(DIST, 'cli/syncord.js')]
    : ['--import', 'tsx', '--import', probe, path.join(ROOT, 'cli/syncord.ts')];
}

/** Clock ticks per second of /proc's CPU times. */
const CLK_TCK = (() => {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

/** The idle window: 60 s at 10,000 objects, proportionally less below, never under 5 s. */
const idleWindowMs = (n: number): number =>
  Math.min(IDLE_MAX_MS, Math.max(IDLE_MIN_MS, Math.round((IDLE_MAX_MS * n) / 10_000)));

// ---------------------------------------------------------------------------------------------
// The probe: counts of what the serve process sends to its backends.

/**
 * The module loaded into each serve with `--import` (after tsx, so the repo's modules are the
 * same instances the serve imports): it wraps the client methods every backend request goes
 * through and, on SIGUSR2, writes the counts so far as JSON to $SYNCORD_BENCH_COUNTS. Nothing
 * runs between signals, so it costs the idle process nothing.
 */
function probeUrl(mode: ServeMode): string {
  // The modules the serve itself loads: the compiled ones, or the sources through tsx.
  const file = (p: string) =>
    JSON.stringify(
      pathToFileURL(
        mode === 'compiled' ? path.join(DIST, p.replace(/\.ts$/, '.js')) : path.join(ROOT, p),
      ).href,
    );
  const kube = JSON.stringify(import.meta.resolve('@kubernetes/client-node'));
  const source = `
import { renameSync, writeFileSync } from 'node:fs';
const counts = {};
const wrap = (proto, name, kind) => {
  const f = proto[name];
  proto[name] = function (...args) {
    const k = kind.apply(this, args);
    counts[k] = (counts[k] ?? 0) + 1;
    return f.apply(this, args);
  };
};
const { OvsdbClient } = await import(${file('backends/ovn/ovsdb.ts')});
wrap(OvsdbClient.prototype, 'transact', function (ops) {
  return 'ovsdb ' + this.database + ' transact ' + (ops.every((o) => o.op === 'select') ? 'read' : 'write');
});
wrap(OvsdbClient.prototype, 'monitor', function () { return 'ovsdb ' + this.database + ' monitor'; });
const { VtnClient } = await import(${file('backends/vtn/client.ts')});
wrap(VtnClient.prototype, 'call', (method) => 'vtn ' + method);
wrap(VtnClient.prototype, 'watch', () => 'vtn Watch');
const { onRequest } = await import(${file('backends/openstack/client.ts')});
onRequest((r) => {
  const k = 'openstack ' + r.service + ' ' + r.method;
  counts[k] = (counts[k] ?? 0) + 1;
});
const { KubeConfig } = await import(${kube});
wrap(KubeConfig.prototype, 'applySecurityAuthentication', (c) => 'kubernetes ' + c.getHttpMethod());
wrap(KubeConfig.prototype, 'applyToFetchOptions', () => 'kubernetes watch');
const out = process.env.SYNCORD_BENCH_COUNTS;
process.on('SIGUSR2', () => {
  writeFileSync(out + '.tmp', JSON.stringify(counts));
  renameSync(out + '.tmp', out);
});
`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

type Counts = Record<string, number>;

function diffCounts(before: Counts, after: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

const sumCounts = (c: Counts): number => Object.values(c).reduce((a, b) => a + b, 0);

/** "vtn UpdatePort 3, ovsdb OVN_Northbound transact read 1", most frequent first. */
const breakdown = (c: Counts): string =>
  Object.entries(c)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ') || 'none';

// ---------------------------------------------------------------------------------------------
// One `syncord serve` process.

interface ServeMetrics {
  /** syncord_reconcile_total by "step outcome". */
  reconciles: Counts;
  /** Seconds the reconciles took in all, by step (the latency histogram's sums). */
  stepSeconds: Counts;
  total: number;
  depth: number;
  inFlight: number;
  leader: boolean;
}

function parseMetrics(text: string): ServeMetrics {
  const m: ServeMetrics = {
    reconciles: {},
    stepSeconds: {},
    total: 0,
    depth: 0,
    inFlight: 0,
    leader: false,
  };
  for (const line of text.split('\n')) {
    const r = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!r) continue;
    const value = Number(r[3]);
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(r[2] ?? '')?.[1] ?? '?';
    if (r[1] === 'syncord_reconcile_total') {
      m.reconciles[`${label('step')} ${label('outcome')}`] = value;
      m.total += value;
    } else if (r[1] === 'syncord_reconcile_duration_seconds_sum') {
      m.stepSeconds[label('step')] = value;
    } else if (r[1] === 'syncord_queue_depth') m.depth = value;
    else if (r[1] === 'syncord_queue_in_flight') m.inFlight = value;
    else if (r[1] === 'syncord_leader') m.leader = value === 1;
  }
  return m;
}

class ServeProcess {
  readonly child: ChildProcess;
  readonly spawnedAt = now();
  exitedAt: number | undefined;
  private readonly lines: { at: number; text: string }[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly countsFile: string;
  private httpUrl: string | undefined;

  constructor(
    readonly name: string,
    env: Record<string, string>,
    args: string[],
    probe: string,
  ) {
    this.countsFile = path.join(
      os.tmpdir(),
      `syncord-bench-serve-${String(process.pid)}-${name}.json`,
    );
    this.child = spawn(
      process.execPath,
      [
        ...serveCommand(serveMode(), probe),
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--api-listen',
        'off',
        ...args,
      ],
      {
        cwd: ROOT,
        // No first admin to make (undefined values are left out of the child's environment).
        env: {
          ...process.env,
          ...env,
          SYNCORD_BENCH_COUNTS: this.countsFile,
          SYNCORD_ADMIN_PASSWORD: undefined,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let rest = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      const at = now();
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      // The first lines say how it started; later ones are kept for an error's message.
      for (const text of parts) {
        this.lines.push({ at, text });
        if (this.lines.length > 2000) this.lines.splice(100, 1000);
      }
      for (const l of this.listeners) l();
    });
    this.child.once('exit', () => {
      this.exitedAt = now();
      for (const l of this.listeners) l();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exited(): boolean {
    return this.exitedAt !== undefined;
  }

  /** Its last log lines, for an error. */
  tail(n = 5): string {
    return this.lines
      .slice(-n)
      .map((l) => l.text)
      .join(' | ');
  }

  /** When the first log line matching `re` came, waiting for it if need be. */
  waitFor(re: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<number> {
    return new Promise((resolve, reject) => {
      const finish = (err: Error | undefined, at = 0) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve(at);
      };
      const check = () => {
        const hit = this.lines.find((l) => re.test(l.text));
        if (hit) {
          finish(undefined, hit.at);
        } else if (this.exited) {
          finish(new Error(`${this.name} exited before logging ${String(re)}: ${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish(new Error(`${this.name} did not log ${String(re)} in time: ${this.tail()}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Its HTTP endpoint, once it listens. */
  async url(): Promise<string> {
    if (!this.httpUrl) {
      await this.waitFor(/serving \/healthz/);
      const line = this.lines.find((l) => /serving \/healthz/.test(l.text))!.text;
      this.httpUrl = /(http:\/\/\S+)/.exec(line)![1]!;
    }
    return this.httpUrl;
  }

  async metrics(): Promise<ServeMetrics> {
    const res = await fetch(`${await this.url()}/metrics`);
    if (!res.ok) throw new Error(`${this.name}: /metrics answered ${String(res.status)}`);
    return parseMetrics(await res.text());
  }

  async readyz(): Promise<string> {
    const res = await fetch(`${await this.url()}/readyz`);
    return (await res.text()).trim();
  }

  /** CPU seconds (user + system) the process has used. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${String(this.pid)}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  }

  /** A /proc/<pid>/status memory field (VmHWM, VmRSS) in MiB. */
  memoryMiB(field: 'VmHWM' | 'VmRSS'): number {
    const status = readFileSync(`/proc/${String(this.pid)}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    if (kb === undefined) throw new Error(`${this.name}: no ${field} in /proc`);
    return Number(kb) / 1024;
  }

  /** The probe's counts of backend requests so far. */
  async counts(): Promise<Counts> {
    rmSync(this.countsFile, { force: true });
    this.child.kill('SIGUSR2');
    const t = now();
    while (!existsSync(this.countsFile)) {
      if (this.exited || now() - t > 10_000) {
        throw new Error(`${this.name}: the probe wrote no counts: ${this.tail()}`);
      }
      await sleep(10);
    }
    const counts = JSON.parse(readFileSync(this.countsFile, 'utf8')) as Counts;
    rmSync(this.countsFile, { force: true });
    return counts;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL if it has not exited within the timeout. */
  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => {
        const l = () => {
          if (this.exited) resolve();
        };
        this.listeners.add(l);
        l();
      });
      this.child.kill('SIGTERM');
      const timer = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const);
      if ((await Promise.race([gone, timer])) === 'timeout') {
        this.child.kill('SIGKILL');
        await gone;
      }
    }
    rmSync(this.countsFile, { force: true });
  }
}

/** Runs `work` with a serve process, stopped afterwards whatever happens. */
async function withServe<T>(
  name: string,
  env: Record<string, string>,
  args: string[],
  probe: string,
  work: (p: ServeProcess) => Promise<T>,
  also: ServeProcess[] = [],
): Promise<T> {
  const p = new ServeProcess(name, env, args, probe);
  try {
    return await work(p);
  } finally {
    await Promise.all([p, ...also].map((x) => x.stop()));
  }
}

/**
 * Waits until the process is quiet: its queue empty, no reconcile and under QUIET_CPU of a CPU
 * for QUIET_MS (its metrics polled every 250 ms). Returns how long that took.
 */
async function waitQuiet(p: ServeProcess, log: (line: string) => void): Promise<number> {
  const start = now();
  let last = await p.metrics();
  let since = now();
  let cpu = p.cpuSeconds();
  for (;;) {
    await sleep(250);
    const m = await p.metrics();
    const c = p.cpuSeconds();
    const t = now();
    if (m.depth > 0 || m.inFlight > 0 || m.total !== last.total) {
      since = t;
      cpu = c;
    } else if (t - since >= QUIET_MS) {
      if ((c - cpu) / ((t - since) / 1000) < QUIET_CPU) return t - start;
      since = t;
      cpu = c;
    }
    last = m;
    if (t - start > QUIET_TIMEOUT_MS) {
      log(`${p.name}: not quiet after ${seconds(t - start)}; going on`);
      return t - start;
    }
  }
}

interface Idle {
  cpuPerMinute: number;
  /** Reconciles during the window (0 unless something woke the engine). */
  reconciles: number;
}

/** The process's CPU over an idle window (metrics read before and after it, not during). */
async function idleWindow(p: ServeProcess, ms: number): Promise<Idle> {
  const m0 = await p.metrics();
  const c0 = p.cpuSeconds();
  const t0 = now();
  await sleep(ms);
  const c1 = p.cpuSeconds();
  const t1 = now();
  const m1 = await p.metrics();
  return { cpuPerMinute: (c1 - c0) / ((t1 - t0) / 60_000), reconciles: m1.total - m0.total };
}

interface ResyncCount {
  requests: Counts;
  reconciles: Counts;
  ms: number;
}

/**
 * One periodic resync: from a quiet point, the backend requests and reconciles until the engine
 * is quiet again after the next resync started (seen as reconciles moving).
 */
async function countResync(
  p: ServeProcess,
  log: (line: string) => void,
  timeoutMs: number,
): Promise<ResyncCount> {
  await waitQuiet(p, log);
  const c0 = await p.counts();
  const m0 = await p.metrics();
  const t0 = now();
  for (;;) {
    await sleep(100);
    if ((await p.metrics()).total > m0.total) break;
    if (now() - t0 > timeoutMs) throw new Error(`${p.name}: no periodic resync came`);
  }
  const started = now();
  await waitQuiet(p, log);
  const ms = now() - started;
  const c1 = await p.counts();
  const m1 = await p.metrics();
  return {
    requests: diffCounts(c0, c1),
    reconciles: diffCounts(m0.reconciles, m1.reconciles),
    ms,
  };
}

// ---------------------------------------------------------------------------------------------
// The models and the backends.

interface Layout {
  networks: number;
  instances: number;
  ports: number;
}

function layoutOf(n: number): Layout {
  const networks = Math.max(1, Math.round(n / OBJECTS_PER_NETWORK));
  const ports = n - 2 * networks;
  if (ports < 1) throw new Error(`N = ${String(n)}: at least 3 (a network, an instance, a port)`);
  if (networks > 4096) throw new Error(`N = ${String(n)}: more networks than the plan has VNIs`);
  if (Math.ceil(ports / networks) > 240) throw new Error(`${String(ports)} ports: too many a /24`);
  return { networks, instances: networks, ports };
}

const subnetOf = (i: number): string =>
  `10.${String(160 + Math.floor(i / 256))}.${String(i % 256)}.0/24`;

async function createBatched(
  tx: ModelTx,
  model: string,
  rows: Record<string, unknown>[],
): Promise<ModelObject[]> {
  const out: ModelObject[] = [];
  for (let from = 0; from < rows.length; from += BATCH) {
    out.push(...(await tx.createMany(model, rows.slice(from, from + BATCH))));
  }
  return out;
}

interface Seeded {
  layout: Layout;
  instances: ModelObject[];
  networks: ModelObject[];
}

/** The objects, in one transaction: a Service, the Networks, an instance per network, the Ports. */
async function seed(
  svc: ModelService,
  instance: string,
  layout: Layout,
  vni: (i: number) => number,
): Promise<Seeded> {
  return svc.transaction(async (tx) => {
    const service = await tx.create('Service', { name: `${instance}-svc` });
    const networks = await createBatched(
      tx,
      'Network',
      Array.from({ length: layout.networks }, (_, i) => ({
        name: `${instance}-net-${String(i)}`,
        provider: 'ovn',
        subnet: subnetOf(i),
        segment_id: vni(i),
      })),
    );
    const instances = await createBatched(
      tx,
      'ServiceInstance',
      networks.map((_, i) => ({ name: `${instance}-si-${String(i)}`, owner_id: service.id })),
    );
    await createBatched(
      tx,
      'Port',
      Array.from({ length: layout.ports }, (_, p) => ({
        network_id: networks[p % layout.networks]!.id,
        service_instance_id: instances[p % layout.networks]!.id,
        interface_name: `p${String(Math.floor(p / layout.networks))}`,
      })),
    );
    return { layout, instances, networks };
  });
}

const PENDING_SQL = `SELECT
  (SELECT count(*) FROM network WHERE deleted_at IS NULL
      AND (backend_code IS DISTINCT FROM 1 OR synced_version IS DISTINCT FROM version))::int
  + (SELECT count(*) FROM port WHERE deleted_at IS NULL
      AND (backend_code IS DISTINCT FROM 1 OR synced_version IS DISTINCT FROM version))::int AS pending,
  (SELECT count(*) FROM port WHERE deleted_at IS NULL AND backend_code = 2)::int AS errors`;

/** Polls until every Network and Port is ok at its version; returns when that was seen. */
async function untilAllOk(
  sql: pg.Client,
  p: ServeProcess,
  log: (line: string) => void,
): Promise<number> {
  let lastLog = now();
  for (;;) {
    const r = await sql.query<{ pending: number; errors: number }>(PENDING_SQL);
    const t = now();
    const { pending, errors } = r.rows[0]!;
    if (pending === 0) return t;
    if (p.exited) throw new Error(`${p.name} exited: ${p.tail()}`);
    if (t - lastLog > 5000) {
      log(
        `${p.name}: ${String(pending)} networks and ports pending (${String(errors)} ports in error) after ${seconds(t - p.spawnedAt)}`,
      );
      lastLog = t;
    }
    if (t - p.spawnedAt > CONVERGE_TIMEOUT_MS) {
      throw new Error(`${p.name} did not converge: ${String(pending)} pending; ${p.tail()}`);
    }
    await sleep(CONVERGE_POLL_MS);
  }
}

/** Polls one Port until it is ok at its version; returns when that was seen. */
async function untilPortOk(sql: pg.Client, id: number, timeoutMs: number): Promise<number> {
  const t0 = now();
  for (;;) {
    const r = await sql.query<{ ok: boolean }>(
      'SELECT backend_code = 1 AND synced_version = version AS ok FROM port WHERE id = $1',
      [id],
    );
    const t = now();
    if (r.rows[0]?.ok) return t;
    if (t - t0 > timeoutMs) throw new Error(`port ${String(id)} not ok after ${seconds(t - t0)}`);
    await sleep(PORT_POLL_MS);
  }
}

/** Removes every OVN row and VTN object a deployment made (OVN drops the rows roots held). */
async function purge(instance: string): Promise<void> {
  await purgeInstance(process.env.OVN_NB_DB!, instance);
  const vtn = new VtnClient(process.env.SYNCORD_VTN_ADDRESS!);
  try {
    await purgeVtn(vtn, instance);
  } finally {
    vtn.close();
  }
}

/** A model service and a polling connection on a database, closed afterwards. */
async function withModels<T>(
  url: string,
  work: (svc: ModelService, sql: pg.Client) => Promise<T>,
): Promise<T> {
  const svc = new ModelService(url, defaultRegistry(), { poolSize: 2 });
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    return await work(svc, sql);
  } finally {
    await sql.end();
    await svc.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The three runs.

/** The small run: SMALL_N objects, converged, then one periodic resync counted (the floor). */
async function smallRun(
  ctx: BenchContext,
  probe: string,
  instance: string,
  vni: (i: number) => number,
): Promise<ResyncCount> {
  const { log } = ctx;
  return withMigratedScratch(ctx.serverUrl, defaultRegistry(), (url) =>
    withModels(url, async (svc, sql) => {
      await seed(svc, instance, layoutOf(SMALL_N), vni);
      return withServe(
        'small',
        { DATABASE_URL: url, SYNCORD_INSTANCE: instance },
        ['--resync', String(SMALL_RESYNC_S)],
        probe,
        async (p) => {
          const ok = await untilAllOk(sql, p, log);
          log(`small: ${String(SMALL_N)} objects ok ${seconds(ok - p.spawnedAt)} after the spawn`);
          const resync = await countResync(p, log, 60_000 + SMALL_RESYNC_S * 3000);
          log(
            `small: one periodic resync: ${String(sumCounts(resync.requests))} backend requests (${breakdown(resync.requests)}); reconciles: ${breakdown(resync.reconciles)}`,
          );
          return resync;
        },
      );
    }),
  );
}

interface EmptyRun {
  readyMs: number;
  idle: Idle;
  hwmMiB: number;
}

/** The empty serve: spawn → synchronizing, then quiet, then the idle window. */
async function emptyRun(
  ctx: BenchContext,
  probe: string,
  instance: string,
  idleMs: number,
): Promise<EmptyRun> {
  const { log } = ctx;
  return withMigratedScratch(ctx.serverUrl, defaultRegistry(), (url) =>
    withServe('empty', { DATABASE_URL: url, SYNCORD_INSTANCE: instance }, [], probe, async (p) => {
      const ready = await p.waitFor(/synchronizing with \d+ steps/);
      const readyMs = ready - p.spawnedAt;
      const quiet = await waitQuiet(p, log);
      log(
        `empty: synchronizing ${seconds(readyMs)} after the spawn, quiet ${seconds(quiet)} later`,
      );
      const idle = await idleWindow(p, idleMs);
      const hwmMiB = p.memoryMiB('VmHWM');
      log(
        `empty: idle ${seconds(idleMs)}: ${idle.cpuPerMinute.toFixed(3)} CPU s/min, ${String(idle.reconciles)} reconciles; VmHWM ${hwmMiB.toFixed(1)} MiB, VmRSS ${p.memoryMiB('VmRSS').toFixed(1)} MiB`,
      );
      return { readyMs, idle, hwmMiB };
    }),
  );
}

interface MainRun {
  okMs: number;
  idle: Idle;
  hwmMiB: number;
  liveMs: number;
  failoverMs: number;
  takeoverMs: number;
  /** The new leader's VmHWM after taking over and one periodic resync. */
  takeoverHwmMiB: number;
  resync: ResyncCount;
}

/**
 * The run at N: serve on the seeded database until all ok, quiet, the idle window; a Port created
 * with the live leader; a standby started (with a short --resync), the leader killed, a Port
 * created; then one periodic resync of the new leader counted.
 */
async function mainRun(
  ctx: BenchContext,
  probe: string,
  instance: string,
  idleMs: number,
  vni: (i: number) => number,
): Promise<MainRun> {
  const { log, n } = ctx;
  const layout = layoutOf(n);
  return withMigratedScratch(ctx.serverUrl, defaultRegistry(), (url) =>
    withModels(url, async (svc, sql) => {
      const { instances, networks } = await seed(svc, instance, layout, vni);
      log(
        `main: seeded ${String(layout.networks)} networks, ${String(layout.instances)} instances, ${String(layout.ports)} ports; starting serve`,
      );
      const env = { DATABASE_URL: url, SYNCORD_INSTANCE: instance };
      const standby: ServeProcess[] = [];
      // Where the machine's CPU goes while serve converges (OVN, VTN and PostgreSQL share it).
      const cpu = new CpuMeter();
      return withServe(
        'leader',
        env,
        [],
        probe,
        async (leader) => {
          const synchronizing = await leader.waitFor(/synchronizing with \d+ steps/);
          const ok = await untilAllOk(sql, leader, log);
          const okMs = ok - leader.spawnedAt;
          const hwmConverged = leader.memoryMiB('VmHWM');
          log(
            `main: synchronizing ${seconds(synchronizing - leader.spawnedAt)} after the spawn, all ok ${seconds(okMs)}; VmHWM ${hwmConverged.toFixed(1)} MiB, CPU ${leader.cpuSeconds().toFixed(1)} s`,
          );
          log(`main: converging, ${cpu.report('the bench')}`);
          const converged = await leader.metrics();
          log(
            `main: reconciles to converge: ${breakdown(converged.reconciles)}; seconds in each step (summed over the workers): ${Object.entries(
              converged.stepSeconds,
            )
              .sort((a, b) => b[1] - a[1])
              .map(([step, s]) => `${step} ${s.toFixed(1)}`)
              .join(', ')}`,
          );
          const quiet = await waitQuiet(leader, log);
          log(`main: quiet ${seconds(quiet)} after all ok`);
          const idle = await idleWindow(leader, idleMs);
          const hwmMiB = leader.memoryMiB('VmHWM');
          log(
            `main: idle ${seconds(idleMs)}: ${idle.cpuPerMinute.toFixed(3)} CPU s/min, ${String(idle.reconciles)} reconciles; VmHWM ${hwmMiB.toFixed(1)} MiB, VmRSS ${leader.memoryMiB('VmRSS').toFixed(1)} MiB`,
          );

          // A new Port with the live leader: the failover's floor.
          const newPort = (iface: string) =>
            svc.create('Port', {
              network_id: networks[0]!.id,
              service_instance_id: instances[0]!.id,
              interface_name: iface,
            });
          const t0 = now();
          const live = await newPort('x0');
          const liveMs = (await untilPortOk(sql, live.id, 60_000)) - t0;
          log(`main: a new Port ok ${seconds(liveMs)} after its create, live leader`);

          // The standby resyncs often enough to count one periodic resync soon after it leads,
          // but not before it has caught up (twice what the leader's convergence took).
          const resyncS = Math.max(4, Math.ceil((2 * (ok - synchronizing)) / 1000) + 2);
          const next = new ServeProcess('standby', env, ['--resync', String(resyncS)], probe);
          standby.push(next);
          await next.url();
          while (!(await next.readyz()).includes('standing by')) await sleep(100);
          const tKill = now();
          leader.kill();
          const created = await newPort('x1');
          const failedOver = await untilPortOk(sql, created.id, 10 * 60_000);
          const failoverMs = failedOver - tKill;
          const takeoverMs = (await next.waitFor(/synchronizing with \d+ steps/, 60_000)) - tKill;
          log(
            `main: leader killed; the standby synchronizing ${seconds(takeoverMs)} later, the new Port ok ${seconds(failoverMs)} later`,
          );
          // The new leader's own peak comes with taking over: backends already full (the OVN
          // monitor's and the VTN watch's first answers) and every object queued at once.
          await untilAllOk(sql, next, log);
          await waitQuiet(next, log);
          const takeoverHwm = next.memoryMiB('VmHWM');
          const resync = await countResync(next, log, resyncS * 3000 + 60_000);
          const takeoverHwmMiB = next.memoryMiB('VmHWM');
          log(
            `main: the new leader (--resync ${String(resyncS)}): one periodic resync in ${seconds(resync.ms)}: ${String(sumCounts(resync.requests))} backend requests (${breakdown(resync.requests)}); reconciles: ${breakdown(resync.reconciles)}; VmHWM ${takeoverHwmMiB.toFixed(1)} MiB (${takeoverHwm.toFixed(1)} before that resync)`,
          );
          return {
            okMs,
            idle,
            hwmMiB,
            liveMs,
            failoverMs,
            takeoverMs,
            takeoverHwmMiB,
            resync,
          };
        },
        standby,
      );
    }),
  );
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  for (const name of ['OVN_NB_DB', 'SYNCORD_VTN_ADDRESS', 'KUBECONFIG']) {
    if (!process.env[name]) {
      throw new Error(`serve needs the rig's ${name}: eval "$(rig/rig env)" first`);
    }
  }
  layoutOf(n);
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const names = { main: `bsv-${runId}`, small: `bsv-${runId}-s`, empty: `bsv-${runId}-e` };
  // VNIs are global in the VTN server: a range of this run's own, the small run's above N's.
  const seedVni = 6_000_000 + Math.floor(Math.random() * 1000) * 8192;
  const vni = (side: 0 | 1) => (i: number) => seedVni + side * 4096 + i;
  const idleMs = idleWindowMs(n);
  const mode = serveMode();
  if (mode === 'compiled') buildDist(log);
  const probe = probeUrl(mode);
  log(`serve runs ${mode === 'compiled' ? 'compiled (node dist/cli/syncord.js)' : 'through tsx'}`);
  log(`instances ${Object.values(names).join(', ')}; idle window ${seconds(idleMs)}`);
  try {
    const small = await smallRun(ctx, probe, names.small, vni(1));
    await purge(names.small);
    const empty = await emptyRun(ctx, probe, names.empty, idleMs);
    const main = await mainRun(ctx, probe, names.main, idleMs, vni(0));
    const idleS = String(Math.round(idleMs / 1000));
    return [
      {
        figure:
          'serve start → all Networks and Ports ok (N = networks + instances + ports; floor: empty serve start → synchronizing)',
        value: main.okMs,
        unit: 'ms',
        floor: empty.readyMs,
      },
      {
        figure: `peak RSS (VmHWM) after all ok and ${idleS} s idle (floor: empty serve)`,
        value: main.hwmMiB,
        unit: 'MiB',
        floor: empty.hwmMiB,
        target: { op: '<', ratio: RSS_TARGET_MIB, absolute: true },
      },
      {
        figure:
          'peak RSS (VmHWM) of the standby after taking over and one resync (floor: empty serve)',
        value: main.takeoverHwmMiB,
        unit: 'MiB',
        floor: empty.hwmMiB,
        target: { op: '<', ratio: RSS_TARGET_MIB, absolute: true },
      },
      {
        figure: `CPU while idle, over ${idleS} s (floor: empty serve)`,
        value: main.idle.cpuPerMinute,
        unit: 'CPU s/min',
        floor: empty.idle.cpuPerMinute,
      },
      {
        figure: `backend requests per periodic resync (OVN, VTN, Kubernetes, OpenStack; floor: at N=${String(SMALL_N)})`,
        value: sumCounts(main.resync.requests),
        unit: 'requests',
        floor: sumCounts(small.requests),
        target: { op: '<', ratio: 2 },
      },
      {
        figure: `reconciles per periodic resync (floor: at N=${String(SMALL_N)})`,
        value: sumCounts(main.resync.reconciles),
        unit: 'reconciles',
        floor: sumCounts(small.reconciles),
      },
      {
        figure: 'failover: kill -9 of the leader → a new Port ok (floor: the same, live leader)',
        value: main.failoverMs / 1000,
        unit: 's',
        floor: main.liveMs / 1000,
        target: { op: '<', ratio: FAILOVER_TARGET_S, absolute: true },
      },
      {
        figure: 'failover: kill -9 of the leader → the standby synchronizing',
        value: main.takeoverMs / 1000,
        unit: 's',
      },
    ];
  } finally {
    for (const instance of Object.values(names)) {
      await purge(instance).catch((err: unknown) => {
        log(`cleanup of ${instance} failed: ${errorText(err)}`);
      });
    }
    log('removed every OVN row and VTN object of the run');
  }
}

export const serveBenchmark: Benchmark = {
  name: 'serve',
  summary: '`syncord serve` as a process: start, RSS, idle CPU, resync requests, failover',
  defaultScale: 10000,
  run,
};
