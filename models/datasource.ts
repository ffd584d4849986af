// PostgreSQL through TypeORM: the data source built from the registry, the committed migrations
// in migrations/, and the generator that turns a registry change into a new migration.
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { DataSource, type MigrationInterface } from 'typeorm';
import type { Registry } from './registry.js';
import { entitySchemas } from './schema.js';

export const migrationsDir = join(dirname(dirname(fileURLToPath(import.meta.url))), 'migrations');

type MigrationClass = new () => MigrationInterface;

/** The committed migrations, in order (file names start with their timestamp). */
export async function loadMigrations(dir = migrationsDir): Promise<MigrationClass[]> {
  const files = readdirSync(dir)
    .filter((f) => /^\d+-.*\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  const classes: MigrationClass[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (typeof value === 'function') classes.push(value as MigrationClass);
    }
  }
  return classes;
}

export interface OpenOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export async function openDataSource(
  url: string,
  registry: Registry,
  options: OpenOptions = {},
): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    entities: entitySchemas(registry),
    migrations: await loadMigrations(),
    migrationsTableName: 'syncord_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: options.poolSize ?? 10 },
  });
  await ds.initialize();
  return ds;
}

/** Applies the committed migrations that the database lacks; returns their names. */
export async function migrate(ds: DataSource): Promise<string[]> {
  // Two processes starting at once (a CLI command and `syncord serve` on a fresh embedded
  // database) take turns: the second finds nothing left to apply.
  // The lock is held on a connection of its own, outside the data source's pool.
  const lock = new pg.Client({ connectionString: (ds.options as { url?: string }).url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(7310430)');
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** The SQL that would make the database match the registry; empty when they agree. */
export async function schemaDrift(ds: DataSource): Promise<string[]> {
  const sql = await ds.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}

/** Runs work against a new empty database on the same server, dropped afterwards. */
export async function withScratchDatabase<T>(
  url: string,
  work: (scratchUrl: string) => Promise<T>,
): Promise<T> {
  const name = `syncord_scratch_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const scratch = new URL(url);
    scratch.pathname = `/${name}`;
    try {
      return await work(scratch.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/**
 * Writes a migration that brings the committed migrations up to the registry: computed on a
 * scratch database (migrated, then compared by TypeORM), with change tracking added for every
 * new table. Returns the file written, or undefined when nothing changed.
 */
export async function generateMigration(
  url: string,
  registry: Registry,
  label: string,
  dir = migrationsDir,
): Promise<string | undefined> {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(label)) {
    throw new Error(`${label}: a migration name is a PascalCase identifier, e.g. AddNetworkMtu`);
  }
  return withScratchDatabase(url, async (scratch) => {
    const ds = await openDataSource(scratch, registry, { poolSize: 2 });
    try {
      await migrate(ds);
      const sql = await ds.driver.createSchemaBuilder().log();
      if (sql.upQueries.length === 0) return undefined;
      const up = sql.upQueries.map((q) => q.query);
      for (const root of registry.tables()) {
        if (up.some((s) => s.startsWith(`CREATE TABLE "${root.table}"`))) {
          up.push(`SELECT syncord_track('${root.table}', '${root.name}')`);
        }
      }
      const down = sql.downQueries.map((q) => q.query).reverse();
      const timestamp = Date.now();
      const file = join(dir, `${timestamp}-${label}.ts`);
      const lit = (s: string) =>
        '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';
      writeFileSync(
        file,
        [
          `// Generated by \`syncord migrate generate ${label}\` from the model registry; reviewed and committed.`,
          `import type { MigrationInterface, QueryRunner } from 'typeorm';`,
          ``,
          `export class ${label}${timestamp} implements MigrationInterface {`,
          `  name = '${label}${timestamp}';`,
          ``,
          `  async up(db: QueryRunner): Promise<void> {`,
          ...up.map((s) => `    await db.query(${lit(s)});`),
          `  }`,
          ``,
          `  async down(db: QueryRunner): Promise<void> {`,
          ...down.map((s) => `    await db.query(${lit(s)});`),
          `  }`,
          `}`,
          ``,
        ].join('\n'),
      );
      return file;
    } finally {
      await ds.destroy();
    }
  });
}
