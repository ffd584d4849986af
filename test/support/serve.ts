// `syncord serve` as a child process, for tests that crash and restart it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * Starts `syncord serve` (HTTP and the gRPC API on free ports) with these environment variables
 * added and these flags after the defaults (a later `--api-listen` wins).
 */
export function spawnServe(
  env: Record<string, string | undefined>,
  options: { args?: string[]; stdio?: StdioOptions } = {},
): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/syncord.ts',
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--api-listen',
      '127.0.0.1:0',
      ...(options.args ?? []),
    ],
    { env: { ...process.env, ...env }, stdio: options.stdio ?? 'ignore' },
  );
}

/** Resolves when the process has exited (at once if it already has). */
export const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        child.once('exit', () => {
          resolve();
        });
      });
