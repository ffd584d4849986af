// `syncord serve --role`: replicas as processes on one database. A sync replica (its role from a
// --config file) leads and serves no API; an api replica (its role from SYNCORD_ROLE) serves
// the API and never leads; SIGTERM stops a leader cleanly and its standby takes over.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';

interface Replica {
  child: ChildProcess;
  log: () => string;
  url: () => Promise<string>;
}

describe('cli: syncord serve --role', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'syncord-roles-'));

  const start = (env: Record<string, string>, args: string[]): Replica => {
    let stderr = '';
    const child = spawnServe(
      { DATABASE_URL: db.url, SYNCORD_INSTANCE: `roles-test-${String(process.pid)}`, ...env },
      { args, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    children.push(child);
    return {
      child,
      log: () => stderr,
      url: () =>
        eventually(
          'serve to listen',
          () => Promise.resolve(/serving \/healthz.* on (http:\S+)/.exec(stderr)?.[1]),
          60_000,
        ),
    };
  };
  const readyz = async (r: Replica) => (await fetch(`${await r.url()}/readyz`)).text();

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await db.drop();
  });

  let sync1: Replica;
  let sync2: Replica;
  let api: Replica;

  it('a sync replica leads and serves no API; an api replica serves it and never leads', async () => {
    const config = join(dir, 'sync.yaml');
    writeFileSync(config, 'role: sync\nworkers: 2\nshutdown-grace: 5\n');
    sync1 = start({}, ['--config', config]);
    await eventually('sync1 leads', async () =>
      (await readyz(sync1)) === 'ok: leading\n' ? true : undefined,
    );
    expect(sync1.log()).to.include('role sync');
    expect(sync1.log()).not.to.include('serving the gRPC model API');
    const none = await fetch(`${await sync1.url()}/api/v1/Site`);
    expect(none.status).to.equal(404);
    expect(await none.text()).to.include('not served by this process (--role sync');

    api = start({ SYNCORD_ROLE: 'api' }, []);
    await eventually('the api replica serves the API', () =>
      Promise.resolve(api.log().includes('serving the gRPC model API') ? true : undefined),
    );
    expect(await readyz(api)).to.equal('ok: standing by\n');
    // It answers for the API (here: asks for a token), where the sync replica has none.
    const asked = await fetch(`${await api.url()}/api/v1/Site`);
    expect(asked.status).to.equal(401);
    // It does not even campaign: with no leader contest it stays a standby.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await readyz(api)).to.equal('ok: standing by\n');
    const metrics = await (await fetch(`${await api.url()}/metrics`)).text();
    expect(metrics, 'an API-only replica reports no leadership').not.to.match(/^syncord_leader /m);
    expect(metrics).to.match(/^syncord_build_info\{version="[^"]+"\} 1$/m);
  });

  it('SIGTERM stops the leader cleanly and its standby takes over', async () => {
    sync2 = start({ SYNCORD_ROLE: 'sync' }, []);
    expect(await readyz(sync2)).to.equal('ok: standing by\n');
    sync1.child.kill('SIGTERM');
    await exited(sync1.child);
    expect(sync1.child.exitCode).to.equal(0);
    expect(sync1.log()).to.match(/SIGTERM: stopping[\s\S]*stopped/);
    await eventually(
      'sync2 leads',
      async () => ((await readyz(sync2)) === 'ok: leading\n' ? true : undefined),
      30_000,
    );
  });

  it('refuses a bad setting before it starts, naming where it came from', async () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'role: sync\nworkerz: 2\n');
    const bad = start({}, ['--config', config]);
    await exited(bad.child);
    expect(bad.child.exitCode).to.equal(1);
    expect(bad.log()).to.include(`--config ${config}: workerz: no such setting`);
    const wrong = start({ SYNCORD_ROLE: 'leader' }, []);
    await exited(wrong.child);
    expect(wrong.child.exitCode).to.equal(1);
    expect(wrong.log()).to.include('SYNCORD_ROLE leader: one of all, api, sync');
  });
});
