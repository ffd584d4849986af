// The syncord command line.
import { Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import { generateMigration, migrate, openDataSource } from '../models/datasource.js';

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error('DATABASE_URL is not set (e.g. eval "$(rig/rig env)")');
  }
  return url;
}

const program = new Command()
  .name('syncord')
  .description('Syncord: declarative network services reconciled into real infrastructure');

const migrateCmd = program
  .command('migrate')
  .description('apply the committed schema migrations to the database (DATABASE_URL)')
  .action(async () => {
    const ds = await openDataSource(databaseUrl(), defaultRegistry(), { poolSize: 2 });
    try {
      const applied = await migrate(ds);
      console.log(applied.length ? `applied ${applied.join(', ')}` : 'the schema is up to date');
    } finally {
      await ds.destroy();
    }
  });

migrateCmd
  .command('generate <name>')
  .description('write a migration that brings the schema up to the model registry')
  .action(async (name: string) => {
    const file = await generateMigration(databaseUrl(), defaultRegistry(), name);
    console.log(
      file
        ? `wrote ${file}: review it, then commit it`
        : 'the migrations already match the registry',
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`syncord: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
