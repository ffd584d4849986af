// The reference VTN server as a child process (`syncord vtn-server`), for tests that kill and
// restart it.
import { spawn, type ChildProcess } from 'node:child_process';
import { exited } from './serve.js';

export interface VtnProcess {
  child: ChildProcess;
  /** "127.0.0.1:PORT" */
  address: string;
  /** The line it printed when it came up (how many objects it loaded). */
  banner: string;
  /** Stops it: SIGTERM (graceful) or SIGKILL (a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `syncord vtn-server` on `listen` (default any free port) with its state in `state`. */
export async function spawnVtn(options: {
  state?: string;
  listen?: string;
  /** More flags, e.g. --tls-cert and --tls-key. */
  args?: string[];
}): Promise<VtnProcess> {
  const args = ['--import', 'tsx', 'cli/syncord.ts', 'vtn-server'];
  args.push('--listen', options.listen ?? '127.0.0.1:0');
  if (options.state) args.push('--state', options.state);
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`vtn-server did not start in 30 s: ${err}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('vtn-server listening on '));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vtn-server exited with ${String(code)}: ${err}`));
    });
  });
  const address = /listening on (\S+:\d+)/.exec(banner)?.[1] ?? '';
  return {
    child,
    address,
    banner,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      await exited(child);
    },
  };
}

/** The VTN client's calls that write. */
export const VTN_WRITES = [
  'putNetwork',
  'putPort',
  'deleteNetwork',
  'deletePort',
  'hostDetected',
  'hostVanished',
] as const;

/**
 * Records every write of a VTN client (a step set's runtime client) into `writes`, as
 * "<method> <id, or host MAC>", and lets it through.
 */
export function recordVtnWrites(client: object, writes: string[]): void {
  const calls = client as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of VTN_WRITES) {
    const original = calls[method]!.bind(client);
    calls[method] = (...a: unknown[]) => {
      const x = a[0] as { id?: string; host_id?: { mac?: string }; mac?: string } | string;
      const named =
        typeof x === 'string' ? x : (x.id ?? x.host_id?.mac ?? x.mac ?? JSON.stringify(x));
      writes.push(`${method} ${named}`);
      return original(...a);
    };
  }
}
