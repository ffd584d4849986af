// The syncord command line.
import { Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import { generateMigration } from '../models/datasource.js';
import { addAdoptCommand } from './adopt.js';
import { addIpamCommands } from './ipam.js';
import { CliError, errorLines } from './format.js';
import { addModelCommands, applyMigrations, withDatabase } from './models.js';
import { addServeCommand } from './serve.js';
import { addToscaCommands } from './tosca.js';
import { addUserCommands } from './users.js';
import { addVtnCommands } from './vtn.js';

const program = new Command()
  .name('syncord')
  .description('Syncord: declarative network services reconciled into real infrastructure')
  .addHelpText(
    'after',
    `
The database is DATABASE_URL when it is set, else Syncord's embedded PostgreSQL (started on
demand, migrated on first use; data under $SYNCORD_DATA_DIR or ~/.local/share/syncord).`,
  );

const migrateCmd = program
  .command('migrate')
  .description(
    'apply the committed schema migrations to the database (DATABASE_URL, else the embedded one)',
  )
  .action(async () => {
    await withDatabase(async (url) => {
      const applied = await applyMigrations(url, defaultRegistry());
      console.log(applied.length ? `applied ${applied.join(', ')}` : 'the schema is up to date');
    });
  });

migrateCmd
  .command('generate <name>')
  .description('write a migration that brings the schema up to the model registry')
  .action(async (name: string) => {
    await withDatabase(async (url) => {
      const file = await generateMigration(url, defaultRegistry(), name);
      console.log(
        file
          ? `wrote ${file}: review it, then commit it`
          : 'the migrations already match the registry',
      );
    });
  });

addModelCommands(program);
addServeCommand(program);
addVtnCommands(program);
addUserCommands(program);
addToscaCommands(program);
addAdoptCommand(program);
addIpamCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const [first, ...rest] = errorLines(err);
  process.stderr.write([`syncord: ${first ?? 'failed'}`, ...rest].join('\n') + '\n');
  // The model layer's errors and usage errors are the user's to fix; anything else may be a bug.
  if (process.env.SYNCORD_DEBUG && err instanceof Error && !(err instanceof CliError)) {
    process.stderr.write(`${err.stack ?? ''}\n`);
  }
  process.exitCode = 1;
});
