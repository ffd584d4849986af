// The model API as operators run it: users and tokens made with the command line, `syncord
// serve` as a process serving the API (its first admin from SYNCORD_ADMIN_PASSWORD), and grpcurl
// as the client.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { readEnv } from '../../rig/control.js';
import { loadConfig } from '../../rig/config.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

const exec = promisify(execFile);

const syncord = (args: string[], env: Record<string, string>) =>
  exec(process.execPath, ['--import', 'tsx', 'cli/syncord.ts', ...args], {
    env: { ...process.env, ...env },
  });

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => {
        resolve(port);
      });
    });
  });

describe('cli: users, tokens and the API of `syncord serve`', function () {
  this.timeout(120_000);
  let db: ScratchDb | undefined;
  let child: ChildProcess | undefined;
  let grpcurl: string;

  before(async function () {
    this.timeout(10 * 60_000);
    const found = process.env.SYNCORD_GRPCURL ?? readEnv(loadConfig())?.SYNCORD_GRPCURL;
    if (!found) {
      process.stderr.write('[test] no grpcurl: run rig/rig up, which builds it\n');
      this.skip();
    }
    grpcurl = found;
    db = await scratchDb();
  });
  after(async () => {
    if (child) {
      child.kill('SIGTERM');
      await exited(child);
    }
    await db?.drop();
  });

  it('serves the API to a token made on the command line, and to the first admin', async () => {
    const env = { DATABASE_URL: db!.url };
    const made = await syncord(['user', 'create', 'ops', '--role', 'operator'], {
      ...env,
      SYNCORD_PASSWORD: 'ops-password-1',
    });
    expect(made.stdout).to.match(/created User \d+ \(ops\), role operator/);
    const issued = await syncord(['token', 'create', 'ops', '--ttl', '1'], env);
    const token = issued.stdout.trim();
    expect(token).to.match(/^syn_[A-Za-z0-9_-]{40,}$/);

    const port = await freePort();
    const address = `127.0.0.1:${String(port)}`;
    child = spawnServe(
      { ...env, SYNCORD_ADMIN_PASSWORD: 'first-admin-password' },
      { args: ['--api-listen', address, '--no-sync'] },
    );
    const call = async (auth: string | undefined, method: string, data = '{}') => {
      const args = ['-plaintext', '-d', data];
      if (auth) args.push('-H', `authorization: Bearer ${auth}`);
      return exec(grpcurl, [...args, address, `syncord.v1.ModelService/${method}`]).then(
        (r) => ({ ok: true, out: r.stdout }),
        (e: unknown) => {
          const o = e as { stdout?: string; stderr?: string };
          return { ok: false, out: `${o.stdout ?? ''}${o.stderr ?? ''}` };
        },
      );
    };
    const me = await eventually('the API up', async () => {
      const r = await call(token, 'WhoAmI');
      return r.ok ? r.out : undefined;
    });
    expect(JSON.parse(me)).to.include({ name: 'ops', role: 'operator' });
    const site = await call(token, 'CreateSite', '{"name":"from-cli"}');
    expect(site.ok, site.out).to.equal(true);
    const anonymous = await call(undefined, 'ListSite');
    expect(anonymous.ok).to.equal(false);
    expect(anonymous.out).to.match(/Unauthenticated/);
    // The first admin came from the environment.
    const login = await call(
      undefined,
      'Login',
      '{"username":"admin","password":"first-admin-password"}',
    );
    expect(login.ok, login.out).to.equal(true);
    const adminToken = (JSON.parse(login.out) as { token: string }).token;
    const users = await call(adminToken, 'ListUser');
    expect(users.ok, users.out).to.equal(true);
    expect(users.out).to.include('"ops"').and.include('"admin"');
    expect(users.out).to.not.match(/password/);
  });
});
