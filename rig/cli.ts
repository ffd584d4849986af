// rig/rig up | down [--keep-data] | status [--json] | env
import { loadConfig } from './config.js';
import { down, readEnv, renderEnv, status, up, type StatusRow } from './control.js';

const usage = `usage: rig/rig <command>

  up                 install what is missing, build (cached), start every component, print status
  down [--keep-data] stop every component and remove the run directory (unless --keep-data)
  status [--json]    each component: state, version, port, pid, log
  env                the environment for clients, as shell exports: eval "$(rig/rig env)"

Environment: SYNCORD_RIG_DIR (run directory), SYNCORD_CACHE_DIR (build cache),
SYNCORD_RIG_PORT_BASE (ports are base+432 postgres, +379 etcd, +443 apiserver, ...),
SYNCORD_RIG_NODES (fake nodes, default 2).`;

function table(rows: StatusRow[]): string {
  const header = ['COMPONENT', 'STATE', 'VERSION', 'PORT', 'PID', 'MEMORY', 'LOG'];
  const mib = (bytes: number) => (bytes ? `${Math.round(bytes / 2 ** 20)}MiB` : '-');
  const cells = rows.map((r) => [
    r.component,
    r.state,
    r.version || '-',
    r.port ? String(r.port) : '-',
    r.pid ? String(r.pid) : '-',
    mib(r.rss),
    r.log,
  ]);
  const total = rows.reduce((sum, r) => sum + r.rss, 0);
  cells.push(['total', '', '', '', '', mib(total), '']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  return [header, ...cells]
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  switch (command) {
    case 'up': {
      const env = await up(config);
      process.stdout.write(table(await status(config)) + '\n\n');
      process.stdout.write(renderEnv(env));
      return 0;
    }
    case 'down':
      await down(config, { keepData: rest.includes('--keep-data') });
      return 0;
    case 'status': {
      const rows = await status(config);
      process.stdout.write(
        rest.includes('--json') ? JSON.stringify(rows, null, 2) + '\n' : table(rows) + '\n',
      );
      return rows.every((r) => r.state === 'running') ? 0 : 3;
    }
    case 'env': {
      const env = readEnv(config);
      if (!env) {
        process.stderr.write('the rig is not up: run rig/rig up\n');
        return 1;
      }
      process.stdout.write(renderEnv(env));
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage + '\n');
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${command}\n${usage}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`rig: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
