// PostgreSQL from Debian's packages: a throwaway cluster in the run directory, on its own port,
// listening on 127.0.0.1 only, with password authentication for TCP clients.
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Component, RigContext } from '../component.js';
import { run } from '../process.js';

export const DATABASE = 'syncord';
export const DB_USER = 'syncord';

function dirs(ctx: RigContext) {
  const root = join(ctx.config.runDir, 'postgres');
  return { root, data: join(root, 'data'), socket: root, password: join(root, 'password') };
}

function password(ctx: RigContext): string {
  return readFileSync(dirs(ctx).password, 'utf8').trim();
}

export function databaseUrl(ctx: RigContext): string {
  return `postgres://${DB_USER}:${password(ctx)}@127.0.0.1:${ctx.config.ports.postgres}/${DATABASE}`;
}

async function query(ctx: RigContext, database: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ctx.config.ports.postgres,
    user: DB_USER,
    password: password(ctx),
    database,
    connectionTimeoutMillis: 2000,
  });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

export const postgres: Component = {
  name: 'postgres',
  readyTimeoutMs: 30_000,
  port: (ctx) => ctx.config.ports.postgres,

  async prepare(ctx) {
    const d = dirs(ctx);
    const owner = ctx.postgresUser;
    mkdirSync(d.root, { recursive: true, mode: 0o700 });
    if (owner) chownSync(d.root, owner.uid, owner.gid);
    if (!existsSync(join(d.data, 'PG_VERSION'))) {
      const pw = randomBytes(12).toString('hex');
      writeFileSync(d.password, pw + '\n', { mode: 0o600 });
      const pwfile = join(d.root, 'initdb-pw');
      writeFileSync(pwfile, pw + '\n', { mode: 0o600 });
      if (owner) chownSync(pwfile, owner.uid, owner.gid);
      await run(
        join(ctx.bins.postgres, 'initdb'),
        [
          '-D',
          d.data,
          '-U',
          DB_USER,
          '--pwfile',
          pwfile,
          '-E',
          'UTF8',
          '--no-locale',
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
        ],
        { uid: owner?.uid, gid: owner?.gid },
      );
    }
    return {
      command: join(ctx.bins.postgres, 'postgres'),
      args: [
        '-D',
        d.data,
        '-p',
        String(ctx.config.ports.postgres),
        '-k',
        d.socket,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=300',
        // A throwaway test cluster: durability across a machine crash is not wanted, speed is.
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      logFile: ctx.logFile('postgres'),
      uid: owner?.uid,
      gid: owner?.gid,
    };
  },

  async ready(ctx) {
    const result = await query(ctx, 'postgres', 'SELECT 1 AS ok');
    return result.rows.length === 1;
  },

  async afterReady(ctx) {
    const exists = await query(
      ctx,
      'postgres',
      `SELECT 1 FROM pg_database WHERE datname = '${DATABASE}'`,
    );
    if (exists.rowCount === 0) await query(ctx, 'postgres', `CREATE DATABASE ${DATABASE}`);
  },

  async version(ctx) {
    const out = await run(join(ctx.bins.postgres, 'postgres'), ['--version']);
    return out.trim().replace(/^postgres \(PostgreSQL\) /, '');
  },
};
