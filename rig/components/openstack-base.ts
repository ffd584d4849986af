// What the rig's OpenStack services share: where their files live, their passwords, the
// environment they run in, their URLs, the ini files they read, and the helpers that run their
// one-time setup commands (db_sync and the like) with the output in the component's log.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { RigContext } from '../component.js';
import type { DaemonSpec } from '../process.js';
import { run } from '../process.js';

export const REGION = 'RegionOne';
/** The host name nova-compute registers under: Neutron binds the servers' ports to it. */
export const COMPUTE_HOST = 'rig-compute';
/** The host name of nova-conductor and nova-scheduler, fixed so that a renamed machine keeps them. */
export const CONTROL_HOST = 'rig-control';
/** The OpenStack services that get a Keystone user of their own (in the project `service`). */
export const SERVICE_USERS = ['glance', 'placement', 'nova', 'neutron'] as const;
export type ServiceUser = (typeof SERVICE_USERS)[number];

export const openstackDir = (ctx: RigContext) => join(ctx.config.runDir, 'openstack');

/** The folder of one service under the run directory, made on first use. */
export function serviceDir(ctx: RigContext, name: string): string {
  const dir = join(openstackDir(ctx), name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Secrets {
  /** MariaDB user `openstack`, owner of every service database. */
  db: string;
  /** RabbitMQ user `openstack`. */
  rabbit: string;
  /** Keystone's `admin`, the user `rig env` exports. */
  admin: string;
  users: Record<ServiceUser, string>;
}

const secretsFile = (ctx: RigContext) => join(openstackDir(ctx), 'secrets.json');
const newSecret = () => randomBytes(12).toString('hex');
const secretsCache = new Map<string, Secrets>();

/** The passwords of this rig's OpenStack, made once and kept in the run directory. */
export function secrets(ctx: RigContext): Secrets {
  const file = secretsFile(ctx);
  const cached = secretsCache.get(file);
  if (cached) return cached;
  if (existsSync(file)) {
    const read = JSON.parse(readFileSync(file, 'utf8')) as Secrets;
    secretsCache.set(file, read);
    return read;
  }
  mkdirSync(openstackDir(ctx), { recursive: true });
  const users = Object.fromEntries(SERVICE_USERS.map((u) => [u, newSecret()])) as Record<
    ServiceUser,
    string
  >;
  const made: Secrets = { db: newSecret(), rabbit: newSecret(), admin: newSecret(), users };
  writeFileSync(file, JSON.stringify(made, null, 2) + '\n', { mode: 0o600 });
  secretsCache.set(file, made);
  return made;
}

/** The admin password, or undefined when this run directory has no OpenStack. */
export function adminPassword(ctx: RigContext): string | undefined {
  return existsSync(secretsFile(ctx)) ? secrets(ctx).admin : undefined;
}

export const keystoneUrl = (ctx: RigContext) => `http://127.0.0.1:${ctx.config.ports.keystone}`;
export const authUrl = (ctx: RigContext) => `${keystoneUrl(ctx)}/v3`;
export const glanceUrl = (ctx: RigContext) => `http://127.0.0.1:${ctx.config.ports.glance}`;
export const placementUrl = (ctx: RigContext) => `http://127.0.0.1:${ctx.config.ports.placement}`;
export const novaUrl = (ctx: RigContext) => `http://127.0.0.1:${ctx.config.ports.novaApi}/v2.1`;
export const neutronUrl = (ctx: RigContext) => `http://127.0.0.1:${ctx.config.ports.neutron}`;

/** SQLAlchemy's URL of one service database on the rig's MariaDB. */
export function dbUrl(ctx: RigContext, database: string): string {
  return `mysql+pymysql://openstack:${secrets(ctx).db}@127.0.0.1:${ctx.config.ports.mariadb}/${database}?charset=utf8mb4`;
}

/** oslo.messaging's URL of the rig's RabbitMQ. */
export function transportUrl(ctx: RigContext): string {
  return `rabbit://openstack:${secrets(ctx).rabbit}@127.0.0.1:${ctx.config.ports.rabbitmq}/`;
}

/** The usual keystoneauth password section, for `[keystone_authtoken]`, `[placement]` and so on. */
export function serviceAuth(ctx: RigContext, user: ServiceUser): IniSection {
  return {
    auth_url: keystoneUrl(ctx),
    auth_type: 'password',
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username: user,
    password: secrets(ctx).users[user],
    region_name: REGION,
  };
}

export function authtoken(ctx: RigContext, user: ServiceUser): IniSection {
  return { www_authenticate_uri: keystoneUrl(ctx), ...serviceAuth(ctx, user) };
}

/** Logging to stderr, which the rig sends to the component's log file. */
export const logToStderr: IniSection = { use_stderr: true, log_dir: '', debug: false };

export type IniSection = Record<string, string | number | boolean>;

/** Writes an oslo.config / paste style ini file (readable by its owner only: it holds passwords). */
export function writeIni(file: string, sections: Record<string, IniSection>): void {
  const text = Object.entries(sections)
    .map(
      ([name, keys]) =>
        `[${name}]\n` +
        Object.entries(keys)
          .map(([k, v]) => `${k} = ${String(v)}\n`)
          .join(''),
    )
    .join('\n');
  writeFileSync(file, text, { mode: 0o600 });
}

/**
 * The environment the services run in: Debian's own tools first (not the caller's pyenv or
 * virtualenv), and nothing else from the caller's shell.
 */
export function serviceEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, LANG: 'C.UTF-8', ...extra };
}

/** A WSGI application of Debian's packages under uwsgi, on 127.0.0.1:port. */
export function uwsgi(
  ctx: RigContext,
  component: string,
  port: number,
  wsgiFile: string,
  env: NodeJS.ProcessEnv,
): DaemonSpec {
  return {
    command: 'uwsgi',
    args: [
      '--plugin',
      'python3',
      '--http-socket',
      `127.0.0.1:${port}`,
      '--wsgi-file',
      wsgiFile,
      '--master',
      '--processes',
      '1',
      '--threads',
      '8',
      '--enable-threads',
      '--lazy-apps',
      '--need-app',
      '--die-on-term',
      '--buffer-size',
      '65535',
      // uwsgi's plain http-socket answers HTTP/1.1 but does not keep connections alive: without
      // this header, pooling clients (keystoneauth, the openstack CLI) send their next request
      // on a closed connection and get "connection reset by peer".
      '--add-header',
      'Connection: close',
    ],
    env,
    logFile: ctx.logFile(component),
  };
}

/**
 * Runs a setup command (db_sync, bootstrap ...) with its output appended to the component's log;
 * fails with the command and the last lines it logged.
 */
export async function runLogged(
  ctx: RigContext,
  component: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const logFile = ctx.logFile(component);
  writeFileSync(logFile, `--- rig: ${command} ${args.join(' ')}\n`, { flag: 'a' });
  const start = statSync(logFile).size;
  const fd = openSync(logFile, 'a');
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
      child.once('error', reject);
      child.once('exit', (c, signal) => {
        resolve(c ?? (signal ? 128 : 1));
      });
    });
    if (code !== 0) {
      // The first line that names an error says more than the advice tools print after it.
      const lines = readFileSync(logFile, 'utf8').slice(start).trim().split('\n');
      const first = lines.find((l) => /error|critical|fatal/i.test(l)) ?? lines.at(-1) ?? '';
      throw new Error(
        `${command} ${args.join(' ')} exited with ${code}: ${first.trim().slice(0, 400)}`,
      );
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `work` once per run directory: one-time setup (schemas, keys, cells) is marked done in
 * openstack/done/ so that later `rig up`s skip it.
 */
export async function once(ctx: RigContext, name: string, work: () => Promise<void>) {
  const marker = join(openstackDir(ctx), 'done', name);
  if (existsSync(marker)) return;
  await work();
  mkdirSync(join(openstackDir(ctx), 'done'), { recursive: true });
  writeFileSync(marker, new Date().toISOString() + '\n');
}

const debVersions = new Map<string, string>();

/** The upstream version of an installed Debian package: 2:26.2.2-1~deb12u5 gives 26.2.2. */
export async function debVersion(pkg: string): Promise<string> {
  let version = debVersions.get(pkg);
  if (version === undefined) {
    const raw = (await run('dpkg-query', ['-W', '-f=${Version}', pkg])).trim();
    version = raw.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
    debVersions.set(pkg, version);
  }
  return version;
}

/**
 * Connects to 127.0.0.1:port, sends `hello` if given, and resolves with the first `bytes` bytes
 * the server answers (a protocol greeting); for probes of servers that do not speak HTTP.
 */
export function greeting(port: number, bytes: number, hello?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(got);
    };
    socket.setTimeout(3000, () => {
      done(new Error(`127.0.0.1:${port}: no greeting in 3s`));
    });
    socket.once('connect', () => {
      if (hello) socket.write(hello);
    });
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= bytes) done();
    });
    socket.once('error', (err) => {
      done(new Error(`127.0.0.1:${port}: ${err.message}`));
    });
    socket.once('end', () => {
      done(got.length ? undefined : new Error(`127.0.0.1:${port}: closed without a greeting`));
    });
  });
}
