// `syncord serve` as a child process, for tests that crash and restart it.
import { spawn, type ChildProcess } from 'node:child_process';

/** Starts `syncord serve` (HTTP on a free port) with these environment variables added. */
export function spawnServe(env: Record<string, string | undefined>): ChildProcess {
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
    ],
    { env: { ...process.env, ...env }, stdio: 'ignore' },
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
