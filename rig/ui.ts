// What `rig` prints while it works: one line per phase, with its elapsed time.
export function say(message: string): void {
  process.stderr.write(`[rig] ${message}\n`);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** Runs one phase, printing when it starts (if slow) and how long it took. */
export async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  say(`${name} ...`);
  const ticker = setInterval(() => {
    say(`${name} ... still working (${formatDuration(Date.now() - started)})`);
  }, 60_000);
  try {
    const result = await work();
    say(`${name}: done in ${formatDuration(Date.now() - started)}`);
    return result;
  } finally {
    clearInterval(ticker);
  }
}
