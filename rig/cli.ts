// rig/rig up [--with openstack] | down [--keep-data] | status [--json] | env
import { loadConfig } from './config.js';
import {
  down,
  extraNames,
  readEnv,
  renderEnv,
  status,
  up,
  type Extra,
  type StatusRow,
} from './control.js';

const usage = `usage: rig/rig <command>

  up [--with NAME]   install what is missing, build (cached), start every component, print status;
                     --with openstack adds OpenStack (Debian's Zed: MariaDB, RabbitMQ, Keystone,
                     Glance, Placement, Neutron on the rig's OVN, Nova with the fake virt driver),
                     which later ups keep until down
  down [--keep-data] stop every component and remove the run directory (unless --keep-data)
  status [--json]    each component: state, version, port, pid, log
  env                the environment for clients, as shell exports: eval "$(rig/rig env)"

Environment: SYNCORD_RIG_DIR (run directory), SYNCORD_CACHE_DIR (build cache),
SYNCORD_RIG_PORT_BASE (ports are base+432 postgres, +379 etcd, +443 apiserver, ...),
SYNCORD_RIG_NODES (fake nodes, default 2). OpenStack's ports are base+5000 and up (Keystone
base+5000, Nova base+5774, Neutron base+5696, Glance base+5292, Placement base+5778, MariaDB
base+5306, RabbitMQ base+5672).`;

/** The names given with --with NAME or --with=NAME (several, or comma-separated). */
function parseWith(args: string[]): Extra[] {
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--with') names.push(...(args[++i] ?? '').split(','));
    else if (arg.startsWith('--with=')) names.push(...arg.slice('--with='.length).split(','));
    else throw new Error(`rig up: unknown argument ${arg}`);
  }
  for (const n of names) {
    if (!(extraNames as string[]).includes(n)) {
      throw new Error(`rig up --with ${n}: unknown; known: ${extraNames.join(', ')}`);
    }
  }
  return names as Extra[];
}

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
      const env = await up(config, { with: parseWith(rest) });
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
