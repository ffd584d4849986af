// Failpoints for crash tests. With SYNCORD_FAILPOINT="<name>:<n>" the process kills itself with
// SIGKILL (no cleanup, as a crash) the n-th time it reaches the named point ("*:<n>": the n-th
// point of any name, for a sweep across backends); with
// SYNCORD_FAILPOINT_LOG=<file> it appends the name of every point it reaches, so a test can count
// the points of a run and then crash at each. Without those variables a failpoint costs one
// comparison.
import { appendFileSync } from 'node:fs';

const spec = /^([\w./-]+|\*):(\d+)$/.exec(process.env.SYNCORD_FAILPOINT ?? '');
const target = spec ? { name: spec[1]!, n: Number(spec[2]) } : undefined;
const logFile = process.env.SYNCORD_FAILPOINT_LOG;
let reached = 0;

/** Marks a point between two external writes (e.g. after a Kubernetes write). */
export function failpoint(name: string): void {
  if (logFile) appendFileSync(logFile, `${name}\n`);
  if (!target || (target.name !== name && target.name !== '*')) return;
  reached++;
  if (reached === target.n) {
    process.stderr.write(`[failpoint] ${name}:${String(reached)} reached: killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
