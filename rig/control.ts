// rig up / down / status / env: brings the real components up in dependency order, waits until
// each answers, records what runs in the run directory, and tears it all down again.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, goBuilds } from './build.js';
import type { Component, RigContext } from './component.js';
import { postgres, databaseUrl } from './components/postgres.js';
import {
  etcd,
  kubeApiserver,
  kubeControllerManager,
  kubeScheduler,
  kwok,
} from './components/kubernetes.js';
import { ovnNb, ovnSb, ovnNorthd, ovnNbRemote, ovnSbRemote } from './components/ovn.js';
import { vtn, vtnAddress } from './components/vtn.js';
import {
  ensureOpenstackPackages,
  openstackComponents,
  openstackEnv,
} from './components/openstack.js';
import type { RigConfig } from './config.js';
import {
  chromiumPath,
  ensureHostPackages,
  ensureSystemPath,
  postgresBinDir,
  postgresUser,
} from './host.js';
import { ensureCredentials, writeKubeconfig } from './pki.js';
import {
  groupRss,
  isAlive,
  portInUse,
  sleep,
  startDaemon,
  stopDaemon,
  tail,
  waitFor,
} from './process.js';
import { formatDuration, phase, say } from './ui.js';

/** In start order; `down` stops them in reverse. */
export const components: Component[] = [
  postgres,
  etcd,
  kubeApiserver,
  kubeControllerManager,
  kubeScheduler,
  kwok,
  ovnNb,
  ovnSb,
  ovnNorthd,
  vtn,
];

/** Optional parts, by the name `rig up --with NAME` takes; they start after the components above. */
export const extraComponents = { openstack: openstackComponents } satisfies Record<
  string,
  Component[]
>;
export type Extra = keyof typeof extraComponents;
export const extraNames = Object.keys(extraComponents) as Extra[];

/** Every component a run directory may hold, in start order. */
const everyComponent = [...components, ...extraNames.flatMap((e) => extraComponents[e])];

function componentsWith(extras: Extra[]): Component[] {
  return [...components, ...extras.flatMap((e) => extraComponents[e])];
}

const extrasFile = (config: RigConfig) => join(config.runDir, 'with.json');

/** The optional parts this run directory was brought up with (`rig up --with`), kept for later ups. */
export function enabledExtras(config: RigConfig): Extra[] {
  try {
    const names = JSON.parse(readFileSync(extrasFile(config), 'utf8')) as string[];
    return extraNames.filter((e) => names.includes(e));
  } catch {
    return [];
  }
}

interface ComponentState {
  pid: number;
  port: number;
  version: string;
  logFile: string;
  startedAt: string;
}
type RigState = Record<string, ComponentState | undefined>;

const stateFile = (config: RigConfig) => join(config.runDir, 'state.json');
const envFile = (config: RigConfig) => join(config.runDir, 'env.sh');

function readState(config: RigConfig): RigState {
  try {
    return JSON.parse(readFileSync(stateFile(config), 'utf8')) as RigState;
  } catch {
    return {};
  }
}

function writeState(config: RigConfig, state: RigState): void {
  const tmp = `${stateFile(config)}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, stateFile(config));
}

const logFileOf = (config: RigConfig, component: string) =>
  join(config.runDir, 'logs', `${component}.log`);

/** Where each client's kubeconfig lives in the run directory. */
function kubeconfigPaths(config: RigConfig): RigContext['kubeconfigs'] {
  const kube = (n: string) => join(config.runDir, 'kube', `${n}.kubeconfig`);
  return {
    admin: kube('admin'),
    controllerManager: kube('kube-controller-manager'),
    scheduler: kube('kube-scheduler'),
    kwok: kube('kwok'),
    syncord: kube('syncord'),
  };
}

/** Builds what must be built and lays out the run directory: everything but the daemons. */
export async function prepareContext(config: RigConfig, extras: Extra[] = []): Promise<RigContext> {
  await phase('check host packages', ensureHostPackages);
  if (extras.includes('openstack')) {
    await phase('check OpenStack packages', ensureOpenstackPackages);
  }
  const binDirs: Record<string, string> = {};
  for (const build of goBuilds()) binDirs[build.name] = await ensureBuilt(build, config);
  const pgBin = postgresBinDir();
  if (!pgBin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  mkdirSync(config.runDir, { recursive: true });
  // PostgreSQL may run as another user and must reach its folder inside the run directory.
  chmodSync(config.runDir, 0o755);
  mkdirSync(join(config.runDir, 'logs'), { recursive: true });
  mkdirSync(join(config.runDir, 'kube'), { recursive: true });
  const creds = await ensureCredentials(config.runDir);
  const kubeconfigs = kubeconfigPaths(config);
  const server = `https://127.0.0.1:${config.ports.apiserver}`;
  writeKubeconfig(kubeconfigs.admin, creds, 'admin', server);
  writeKubeconfig(kubeconfigs.controllerManager, creds, 'kube-controller-manager', server);
  writeKubeconfig(kubeconfigs.scheduler, creds, 'kube-scheduler', server);
  writeKubeconfig(kubeconfigs.kwok, creds, 'kwok', server);
  return {
    config,
    creds,
    bins: {
      kubernetes: binDirs.kubernetes ?? '',
      etcd: binDirs.etcd ?? '',
      kwok: binDirs.kwok ?? '',
      grpcurl: binDirs.grpcurl ?? '',
      ghz: binDirs.ghz ?? '',
      helm: binDirs.helm ?? '',
      promtool: binDirs.promtool ?? '',
      prometheusOperatorCrds: binDirs['prometheus-operator-crds'] ?? '',
      kubevirtCrds: binDirs['kubevirt-crds'] ?? '',
      postgres: pgBin,
    },
    kubeconfigs,
    postgresUser: await postgresUser(),
    logFile: (c) => logFileOf(config, c),
  };
}

/** The environment clients use to find the rig. */
export function rigEnv(ctx: RigContext, extras: Extra[] = []): Record<string, string> {
  const base = {
    SYNCORD_RIG_DIR: ctx.config.runDir,
    KUBECONFIG: ctx.kubeconfigs.admin,
    // Syncord runs as its ServiceAccount (deploy/rbac/syncord.yaml), not as the cluster admin.
    SYNCORD_KUBECONFIG: ctx.kubeconfigs.syncord,
    DATABASE_URL: databaseUrl(ctx),
    OVN_NB_DB: ovnNbRemote(ctx),
    OVN_SB_DB: ovnSbRemote(ctx),
    SYNCORD_VTN_ADDRESS: vtnAddress(ctx),
    SYNCORD_GRPCURL: join(ctx.bins.grpcurl, 'grpcurl'),
    SYNCORD_GHZ: join(ctx.bins.ghz, 'ghz'),
    SYNCORD_HELM: join(ctx.bins.helm, 'helm'),
    SYNCORD_PROMTOOL: join(ctx.bins.promtool, 'promtool'),
    SYNCORD_KUBECTL: join(ctx.bins.kubernetes, 'kubectl'),
    SYNCORD_CHROMIUM: chromiumPath(),
  };
  return extras.includes('openstack') ? { ...base, ...openstackEnv(ctx) } : base;
}

export class ComponentFailed extends Error {
  constructor(
    readonly component: string,
    readonly reason: string,
    readonly logFile: string,
  ) {
    super(`${component} failed to start: ${reason} (log: ${logFile})`);
    this.name = 'ComponentFailed';
  }
}

/** The error, and when the daemon died, the last thing it logged: one line. */
function reason(err: Error, logFile: string): string {
  if (!/exited before it was ready/.test(err.message)) return err.message;
  const last = tail(logFile, 1).replace(/\s+/g, ' ').slice(0, 300);
  return `${err.message}; it last logged: ${last}`;
}

async function running(c: Component, ctx: RigContext, s: ComponentState | undefined) {
  if (!s || !isAlive(s.pid)) return false;
  try {
    return await c.ready(ctx);
  } catch {
    return false;
  }
}

/** Serializes rig operations between processes (two test runs, a user and a test run). */
async function withLock<T>(config: RigConfig, work: () => Promise<T>): Promise<T> {
  mkdirSync(config.runDir, { recursive: true });
  const lock = join(config.runDir, 'lock');
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const holder = Number(readFileSync(lock, 'utf8') || '0');
      if (!isAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the rig is locked by pid ${holder} (${lock})`);
      await sleep(500);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

export async function up(
  config: RigConfig,
  options: { with?: Extra[] } = {},
): Promise<Record<string, string>> {
  return withLock(config, async () => {
    const started = Date.now();
    // What a run directory was brought up with stays: a later plain `rig up` keeps it running.
    const extras = extraNames.filter(
      (e) => enabledExtras(config).includes(e) || (options.with ?? []).includes(e),
    );
    const ctx = await prepareContext(config, extras);
    if (extras.length) writeFileSync(extrasFile(config), JSON.stringify(extras) + '\n');
    const state = readState(config);
    for (const c of componentsWith(extras)) {
      const current = state[c.name];
      if (await running(c, ctx, current)) {
        say(`${c.name}: already running (pid ${current?.pid ?? '?'})`);
        if (c.afterReady) await c.afterReady(ctx);
        if (current) current.version = await c.version(ctx);
        continue;
      }
      try {
        state[c.name] = await startOne(c, ctx, current);
        writeState(config, state);
      } catch (err) {
        const failed =
          err instanceof ComponentFailed
            ? err
            : new ComponentFailed(
                c.name,
                reason(err as Error, ctx.logFile(c.name)),
                ctx.logFile(c.name),
              );
        say(failed.message);
        say(`last lines of ${failed.logFile}:\n${tail(failed.logFile)}`);
        writeState(config, state);
        await stopAll(config);
        throw failed;
      }
    }
    writeState(config, state);
    const env = rigEnv(ctx, extras);
    writeFileSync(envFile(config), renderEnv(env));
    say(`rig up in ${formatDuration(Date.now() - started)}`);
    return env;
  });
}

async function startOne(
  c: Component,
  ctx: RigContext,
  previous: ComponentState | undefined,
): Promise<ComponentState> {
  return phase(`start ${c.name}`, async () => {
    if (previous && isAlive(previous.pid)) await stopDaemon(previous.pid);
    const port = c.port(ctx);
    if (port && (await portInUse(port))) {
      throw new ComponentFailed(
        c.name,
        `port 127.0.0.1:${port} is already taken by another process (set SYNCORD_RIG_PORT_BASE to move the rig)`,
        ctx.logFile(c.name),
      );
    }
    const spec = await c.prepare(ctx);
    const pid = startDaemon(spec);
    try {
      await waitFor(c.name, () => c.ready(ctx), {
        timeoutMs: c.readyTimeoutMs,
        alive: () => isAlive(pid),
      });
      if (c.afterReady) await c.afterReady(ctx);
    } catch (err) {
      await stopDaemon(pid);
      throw err;
    }
    return {
      pid,
      port,
      version: await c.version(ctx),
      logFile: spec.logFile,
      startedAt: new Date().toISOString(),
    };
  });
}

async function stopAll(config: RigConfig): Promise<void> {
  const state = readState(config);
  for (const c of [...everyComponent].reverse()) {
    const s = state[c.name];
    if (s && isAlive(s.pid)) await stopDaemon(s.pid);
    state[c.name] = undefined;
  }
  if (existsSync(config.runDir)) writeState(config, state);
}

export async function down(config: RigConfig, options: { keepData: boolean }): Promise<void> {
  if (!existsSync(config.runDir)) {
    say('the rig is not running');
    return;
  }
  await withLock(config, async () => {
    await phase('stop components', () => stopAll(config));
    rmSync(envFile(config), { force: true });
    if (!options.keepData) rmSync(extrasFile(config), { force: true });
  });
  if (!options.keepData) {
    rmSync(config.runDir, { recursive: true, force: true });
    say(`removed ${config.runDir}`);
  }
}

export interface StatusRow {
  component: string;
  state: 'running' | 'not ready' | 'stopped';
  version: string;
  port: number;
  pid: number | undefined;
  /** Resident memory of the component's processes, in bytes. */
  rss: number;
  log: string;
}

export async function status(config: RigConfig): Promise<StatusRow[]> {
  const state = readState(config);
  let ctx: RigContext | undefined;
  if (existsSync(join(config.runDir, 'pki', 'tokens.csv'))) {
    ctx = await contextForProbes(config);
  }
  const rows: StatusRow[] = [];
  for (const c of componentsWith(enabledExtras(config))) {
    const s = state[c.name];
    const alive = isAlive(s?.pid);
    let ok = false;
    if (alive && ctx) {
      try {
        ok = await c.ready(ctx);
      } catch {
        ok = false;
      }
    }
    rows.push({
      component: c.name,
      state: !alive ? 'stopped' : ok ? 'running' : 'not ready',
      version: s?.version ?? '',
      port: s?.port ?? 0,
      pid: alive ? s?.pid : undefined,
      rss: alive && s ? groupRss(s.pid) : 0,
      log: s?.logFile ?? logFileOf(config, c.name),
    });
  }
  return rows;
}

/** A context good enough for probing a running rig, without building or installing anything. */
async function contextForProbes(config: RigConfig): Promise<RigContext> {
  ensureSystemPath();
  return {
    config,
    creds: await ensureCredentials(config.runDir),
    bins: {
      kubernetes: '',
      etcd: '',
      kwok: '',
      grpcurl: '',
      ghz: '',
      helm: '',
      promtool: '',
      prometheusOperatorCrds: '',
      kubevirtCrds: '',
      postgres: postgresBinDir() ?? '',
    },
    kubeconfigs: kubeconfigPaths(config),
    logFile: (c) => logFileOf(config, c),
  };
}

/** The environment of a running rig, or undefined when it is not up. */
export function readEnv(config: RigConfig): Record<string, string> | undefined {
  if (!existsSync(envFile(config))) return undefined;
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile(config), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

export function renderEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n')
    .concat('\n');
}

/** True when every component is alive and answering. */
export async function isUp(config: RigConfig): Promise<boolean> {
  if (!readEnv(config)) return false;
  return (await status(config)).every((r) => r.state === 'running');
}
