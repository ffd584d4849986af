// Starting, probing and stopping the rig's daemons. Each daemon runs detached in its own
// process group, with stdout and stderr appended to its log file, so it outlives `rig up`.
import { spawn, execFile } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface DaemonSpec {
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (only when the rig runs as root). */
  uid?: number;
  gid?: number;
}

export function startDaemon(spec: DaemonSpec): number {
  const log = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      uid: spec.uid,
      gid: spec.gid,
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers kill 0; treat it as dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return true;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM the daemon's process group, then SIGKILL after a grace period. */
export async function stopDaemon(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (!isAlive(pid)) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signal('SIGKILL');
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log written)';
  const size = statSync(file).size;
  const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 64 * 1024));
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** True when something already accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** Run a command to completion and return its stdout; errors carry stderr. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileP(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed: ${detail || e.message}`, { cause: err });
  }
}

/** Poll until probe() resolves true, or throw after timeoutMs with the last probe error. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; alive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (options.alive && !options.alive()) {
      throw new Error(`${what} exited before it was ready${last ? ` (${last})` : ''}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${Math.round(options.timeoutMs / 1000)}s${last ? ` (${last})` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** Resident memory, in bytes, of every process in the daemon's process group (Linux /proc). */
export function groupRss(pgid: number): number {
  let pages = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name: state ppid pgrp session ... rss is field 24 overall.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pages += Number(fields[21]);
    } catch {
      /* the process ended while we looked */
    }
  }
  return pages * 4096;
}
