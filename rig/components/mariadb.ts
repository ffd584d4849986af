// MariaDB from Debian's mariadb-server, for OpenStack's databases: a throwaway server in the run
// directory, on 127.0.0.1 only. Its root is reachable only through the unix socket (as the OS
// user running the rig); the services use the user `openstack` with a password, over TCP.
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { run } from '../process.js';
import {
  debVersion,
  greeting,
  openstackDir,
  runLogged,
  secrets,
  serviceEnv,
} from './openstack-base.js';

/** One database per service, each owned by the user `openstack`. */
export const DATABASES = [
  'keystone',
  'glance',
  'placement',
  'nova_api',
  'nova',
  'nova_cell0',
  'neutron',
];

function dirs(ctx: RigContext) {
  const root = join(openstackDir(ctx), 'mariadb');
  return { root, data: join(root, 'data'), socket: join(root, 'mysqld.sock') };
}

const asRoot = () => process.getuid?.() === 0;

/** SQL through the unix socket, as the database's administrator (the OS user running the rig). */
async function sql(ctx: RigContext, statements: string): Promise<string> {
  const user = asRoot() ? 'root' : userInfo().username;
  return run('mariadb', [
    '--no-defaults',
    '-S',
    dirs(ctx).socket,
    '-u',
    user,
    '-N',
    '-e',
    statements,
  ]);
}

/** ER_HOST_NOT_PRIVILEGED: before the user `openstack` exists, no one may connect over TCP. */
const HOST_NOT_ALLOWED = 1130;

/**
 * Whether the server greets a TCP client: with its handshake (protocol 10), or, until the rig has
 * made the user `openstack`, with the error that says no user may connect from 127.0.0.1.
 */
async function answers(ctx: RigContext): Promise<boolean> {
  const packet = await greeting(ctx.config.ports.mariadb, 8);
  const payload = packet.subarray(4);
  if (payload[0] === 0x0a) return true;
  if (payload[0] === 0xff && payload.readUInt16LE(1) === HOST_NOT_ALLOWED) return true;
  throw new Error(`MariaDB answered: ${payload.subarray(1).toString('latin1')}`);
}

export const mariadb: Component = {
  name: 'mariadb',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.mariadb,

  async prepare(ctx) {
    const d = dirs(ctx);
    // The server runs as the mysql user, who must pass through the run directory's openstack/.
    mkdirSync(openstackDir(ctx), { recursive: true });
    chmodSync(openstackDir(ctx), 0o755);
    mkdirSync(d.root, { recursive: true, mode: 0o750 });
    // The server writes its socket and pid file next to its data, as the mysql user.
    if (asRoot()) {
      const uid = Number((await run('id', ['-u', 'mysql'])).trim());
      const gid = Number((await run('id', ['-g', 'mysql'])).trim());
      chownSync(d.root, uid, gid);
    }
    if (!existsSync(join(d.data, 'mysql'))) {
      await runLogged(
        ctx,
        'mariadb',
        'mariadb-install-db',
        [
          '--no-defaults',
          `--datadir=${d.data}`,
          ...(asRoot() ? ['--user=mysql'] : []),
          '--auth-root-authentication-method=socket',
          '--skip-test-db',
        ],
        serviceEnv(d.root),
      );
    }
    return {
      command: 'mariadbd',
      args: [
        '--no-defaults',
        `--datadir=${d.data}`,
        `--socket=${d.socket}`,
        `--pid-file=${join(d.root, 'mysqld.pid')}`,
        `--port=${ctx.config.ports.mariadb}`,
        '--bind-address=127.0.0.1',
        // mariadbd refuses to run as root; it drops to Debian's mysql user itself.
        ...(asRoot() ? ['--user=mysql'] : []),
        '--skip-name-resolve',
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci',
        '--max-connections=1000',
        '--innodb-buffer-pool-size=64M',
        // A throwaway test server: durability across a machine crash is not wanted, speed is.
        '--innodb-flush-log-at-trx-commit=0',
        '--innodb-doublewrite=0',
      ],
      env: serviceEnv(d.root),
      logFile: ctx.logFile('mariadb'),
    };
  },

  ready: answers,

  /** The user `openstack` and one database per service (statements that change nothing twice). */
  async afterReady(ctx) {
    const pw = secrets(ctx).db;
    const statements = [
      `CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '${pw}'`,
      ...DATABASES.flatMap((db) => [
        `CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4`,
        `GRANT ALL PRIVILEGES ON ${db}.* TO 'openstack'@'127.0.0.1'`,
      ]),
    ];
    await sql(ctx, statements.join('; '));
  },

  version: () => debVersion('mariadb-server'),
};
