// `syncord serve`'s settings: flags, environment variables and the --config file, with one
// precedence (flag, variable, file, default), and errors that name where a bad value came from.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addServeCommand, serveSettings, type ServeSettings } from '../../cli/serve.js';

/** Parses a serve command line the way `syncord serve` does, without serving. */
async function settingsOf(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeSettings> {
  const program = new Command().exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addServeCommand(program);
  const serve = program.commands.find((c) => c.name() === 'serve');
  if (!serve) throw new Error('no serve command');
  serve.exitOverride();
  let out: ServeSettings | undefined;
  serve.action((_opts: unknown, command: Command) => {
    out = serveSettings(command, env);
  });
  await program.parseAsync(['node', 'syncord', 'serve', ...args]);
  if (!out) throw new Error('serve did not run');
  return out;
}

async function errorOf(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await settingsOf(args, env);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected an error');
}

describe('cli: serve settings (flags, environment, --config)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncord-config-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('has defaults: role all, HTTP on 127.0.0.1:8080, the API on 127.0.0.1:50051', async () => {
    const s = await settingsOf([]);
    expect(s.role).to.equal('all');
    expect(s.listen).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(s.api).to.deep.equal({ host: '127.0.0.1', port: 50051 });
    expect(s.workers).to.equal(8);
    expect(s.resyncMs).to.equal(300_000);
    expect(s.shutdownGraceMs).to.equal(20_000);
  });

  it('takes a flag over its variable, the variable over the file, the file over the default', async () => {
    const config = file('precedence.yaml', 'workers: 3\nresync: 60\nlisten: 0.0.0.0:9000\n');
    const env = { SYNCORD_WORKERS: '5', SYNCORD_RESYNC: '120' };
    const s = await settingsOf(['--config', config, '--workers', '7'], env);
    expect(s.workers, 'flag').to.equal(7);
    expect(s.resyncMs, 'variable').to.equal(120_000);
    expect(s.listen, 'file').to.deep.equal({ host: '0.0.0.0', port: 9000 });
    expect(s.shutdownGraceMs, 'default').to.equal(20_000);
    expect(s.all.get('workers')?.source).to.equal('flag');
    expect(s.all.get('resync')?.source).to.equal('env');
    expect(s.all.get('listen')?.source).to.equal('file');
    expect(s.all.get('shutdown-grace')?.source).to.equal('default');
  });

  it('finds the file through SYNCORD_CONFIG, and --config wins over it', async () => {
    const a = file('a.yaml', 'workers: 2\n');
    const b = file('b.yaml', 'workers: 4\n');
    expect((await settingsOf([], { SYNCORD_CONFIG: a })).workers).to.equal(2);
    expect((await settingsOf(['--config', b], { SYNCORD_CONFIG: a })).workers).to.equal(4);
  });

  it('serves by role: api has no synchronizer, sync no API', async () => {
    expect((await settingsOf(['--role', 'api'])).role).to.equal('api');
    const sync = await settingsOf(['--role', 'sync']);
    expect(sync.role).to.equal('sync');
    expect(sync.api, 'no gRPC API on a sync replica').to.equal(false);
    expect((await settingsOf([], { SYNCORD_ROLE: 'sync' })).api).to.equal(false);
    expect((await settingsOf(['--config', file('role.yaml', 'role: api\n')])).role).to.equal('api');
    // The older spelling.
    expect((await settingsOf(['--no-sync'])).role).to.equal('api');
    expect(await errorOf(['--no-sync', '--role', 'sync'])).to.equal(
      '--no-sync contradicts --role sync: --no-sync is --role api',
    );
  });

  it('names the flag, the variable or the file key of a bad value', async () => {
    expect(await errorOf(['--role', 'leader'])).to.match(/--role.*leader.*all, api, sync/);
    expect(await errorOf([], { SYNCORD_ROLE: 'leader' })).to.equal(
      'SYNCORD_ROLE leader: one of all, api, sync',
    );
    const bad = file('bad-workers.yaml', 'workers: 0\n');
    expect(await errorOf(['--config', bad])).to.equal(`${bad}: workers 0: a positive integer`);
    expect(await errorOf(['--workers', 'many'])).to.equal('--workers many: a positive integer');
    expect(await errorOf([], { SYNCORD_RESYNC: '-1' })).to.equal(
      'SYNCORD_RESYNC -1: a positive number of seconds',
    );
    expect(await errorOf(['--shutdown-grace', 'soon'])).to.equal(
      '--shutdown-grace soon: a non-negative number of seconds',
    );
    expect(await errorOf([], { SYNCORD_LISTEN: 'here' })).to.equal(
      'SYNCORD_LISTEN here: expected host:port or port, e.g. 127.0.0.1:8080',
    );
    // A grace of 0 stops at once (allowed).
    expect((await settingsOf(['--shutdown-grace', '0'])).shutdownGraceMs).to.equal(0);
  });

  it('refuses a file with an unknown key, a nested value, or no YAML, naming the file', async () => {
    const unknown = file('unknown.yaml', 'workers: 2\nworkerz: 3\n');
    const message = await errorOf(['--config', unknown]);
    expect(message).to.match(new RegExp(`^--config ${unknown}: workerz: no such setting`));
    expect(message).to.include('workers');
    const nested = file('nested.yaml', 'tls-cert:\n  file: /x\n');
    expect(await errorOf(['--config', nested])).to.equal(
      `--config ${nested}: tls-cert: expected a single value (a string, number or boolean)`,
    );
    const list = file('list.yaml', '- workers\n');
    expect(await errorOf(['--config', list])).to.equal(
      `--config ${list}: expected a mapping of settings (key: value)`,
    );
    const broken = file('broken.yaml', 'database-url: "postgres://u:secret@h/db\n');
    const why = await errorOf(['--config', broken]);
    expect(why).to.match(new RegExp(`^--config ${broken}: not YAML: `));
    expect(why, 'no quote of the file (it may hold a secret)').not.to.include('secret');
    expect(await errorOf(['--config', join(dir, 'absent.yaml')])).to.match(
      /--config .*absent\.yaml: cannot read it: ENOENT/,
    );
  });

  it('puts the file’s flagless settings into their variables, unless the variable is set', async () => {
    const config = file(
      'endpoints.yaml',
      'database-url: postgres://syncord@db/syncord\novn-nb-db: tcp:10.0.0.1:6641\nvtn-address: 10.0.0.2:50052\n',
    );
    const env: NodeJS.ProcessEnv = { OVN_NB_DB: 'tcp:127.0.0.1:6641' };
    await settingsOf(['--config', config], env);
    expect(env.DATABASE_URL).to.equal('postgres://syncord@db/syncord');
    expect(env.SYNCORD_VTN_ADDRESS).to.equal('10.0.0.2:50052');
    expect(env.OVN_NB_DB, 'the variable wins').to.equal('tcp:127.0.0.1:6641');
  });

  it('names the file key of a TLS file that came from the file', async () => {
    const config = file('tls.yaml', `tls-cert: ${join(dir, 'no-cert.pem')}\n`);
    const s = await settingsOf(['--config', config]);
    expect(s.all.get('tls-cert')).to.deep.equal({
      value: join(dir, 'no-cert.pem'),
      source: 'file',
      via: `${config}: tls-cert`,
    });
  });
});
