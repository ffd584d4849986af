// Mocha's spec reporter, plus one closing line in the plain form CI systems read:
// "tests: N passed, N failed, N skipped". And a watchdog: a run that has not exited 60 s after its
// last test (a connection, server or timer some test left open, most often after a failure) says
// so, naming what keeps it alive, and exits failed instead of hanging until CI's time runs out.
'use strict';
const Mocha = require('mocha');

const LINGER_MS = 60_000;

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      process.stdout.write(
        `\ntests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`,
      );
      const watchdog = setTimeout(() => {
        const open = process
          .getActiveResourcesInfo()
          .filter((r) => r !== 'Timeout' && r !== 'TTYWrap');
        process.stderr.write(
          `\nmocha: still running ${LINGER_MS / 1000} s after the last test: something a test opened was not closed (${[...new Set(open)].join(', ') || 'timers'}); exiting failed\n`,
        );
        const code = s.failures ? 1 : 3;
        // Mocha sets the exit code on 'exit' from the failures alone: this listener runs after it.
        process.on('exit', () => {
          process.exitCode = code;
        });
        process.exit(code);
      }, LINGER_MS);
      // The watchdog itself keeps nothing alive: a run that ends cleanly never sees it.
      watchdog.unref();
    });
  }
}

module.exports = SpecWithSummary;
