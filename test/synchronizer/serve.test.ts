// `syncord serve`'s synchronizer half: two replicas on one database, one leading; health,
// readiness and Prometheus metrics over HTTP; the standby takes over when the leader stops.
import { expect } from 'chai';
import type { SyncStep } from '../../synchronizer/engine.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

describe('synchronizer: serve with two replicas', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  const synced: string[] = [];
  const step: SyncStep = {
    name: 'memory/site',
    observes: 'Site',
    sync: (o) => {
      synced.push(String(o.name));
      return Promise.resolve(`noted ${String(o.name)}`);
    },
    delete: () => Promise.resolve(undefined),
  };
  let a: Server;
  let b: Server;

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    const quiet = () => undefined;
    a = await serve({
      registry: db.registry,
      steps: [step],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      log: quiet,
    });
    await eventually('a leads', () => Promise.resolve(a.engine() ? true : undefined));
    b = await serve({
      registry: db.registry,
      steps: [step],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      log: quiet,
    });
  });
  after(async () => {
    await a.stop();
    await b.stop();
    await db.drop();
  });

  const text = async (url: string) => {
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  };

  it('answers /healthz and /readyz, saying who leads', async () => {
    expect(await text(`${a.url}/healthz`)).to.deep.equal({ status: 200, body: 'ok\n' });
    expect(await text(`${a.url}/readyz`)).to.deep.equal({ status: 200, body: 'ok: leading\n' });
    expect(await text(`${b.url}/readyz`)).to.deep.equal({ status: 200, body: 'ok: standing by\n' });
  });

  it('exports Prometheus metrics: leadership, reconciles, objects by status', async () => {
    const site = await db.service.create('Site', { name: 'metrics-site' });
    await eventually('synced', async () =>
      (await db.service.get('Site', site.id)).backend_code === 1 ? true : undefined,
    );
    const m = (await text(`${a.url}/metrics`)).body;
    expect(m).to.match(/^syncord_leader 1$/m);
    expect(m).to.match(/^syncord_reconcile_total\{step="memory\/site",outcome="ok"\} [1-9]/m);
    expect(m).to.match(/^syncord_reconcile_duration_seconds_count\{step="memory\/site"\} [1-9]/m);
    expect(m).to.match(/^syncord_objects\{model="Site",backend_code="1"\} 1$/m);
    expect(m).to.match(/^# HELP syncord_queue_depth /m);
    expect((await text(`${b.url}/metrics`)).body).to.match(/^syncord_leader 0$/m);
  });

  it('the standby takes over when the leader stops', async () => {
    await a.stop();
    const t0 = Date.now();
    await eventually('b leads', () => Promise.resolve(b.engine() ? true : undefined));
    const took = Date.now() - t0;
    const site = await db.service.create('Site', { name: 'after-failover' });
    await eventually('synced by b', async () =>
      (await db.service.get('Site', site.id)).backend_code === 1 ? true : undefined,
    );
    expect(synced).to.include('after-failover');
    expect(took).to.be.below(10_000);
  });
});

describe('synchronizer: serve when the engine cannot start', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let server: Server | undefined;

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
  });
  after(async () => {
    await server?.stop();
    await db.drop();
  });

  it('gives the lock up and tries again, never leading without synchronizing', async () => {
    let starts = 0;
    let stops = 0;
    const synced: string[] = [];
    const step: SyncStep = {
      name: 'memory/site',
      observes: 'Site',
      // Its backend refuses the first two starts (e.g. unreachable while the replica led).
      start: () => {
        starts++;
        return starts <= 2 ? Promise.reject(new Error('backend not ready')) : Promise.resolve();
      },
      stop: () => {
        stops++;
        return Promise.resolve();
      },
      sync: (o) => {
        synced.push(String(o.name));
        return Promise.resolve(`noted ${String(o.name)}`);
      },
      delete: () => Promise.resolve(undefined),
    };
    const lines: string[] = [];
    server = await serve({
      registry: db.registry,
      steps: [step],
      databaseUrl: db.url,
      port: 0,
      api: false,
      log: (line) => lines.push(line),
    });
    const s = server;
    // While its step cannot start, the replica does not say it leads.
    await eventually('the first start to fail', () =>
      Promise.resolve(starts >= 1 ? true : undefined),
    );
    const ready = await (await fetch(`${s.url}/readyz`)).text();
    expect(ready).to.not.match(/leading/);
    await eventually('leading with its engine', () =>
      Promise.resolve(s.engine() ? true : undefined),
    );
    expect(starts).to.equal(3);
    // A failed start stops nothing it did not start.
    expect(stops).to.equal(0);
    expect(lines.filter((l) => l.includes('could not start: backend not ready'))).to.have.length(2);
    const site = await db.service.create('Site', { name: 'after-retries' });
    await eventually('synced', async () =>
      (await db.service.get('Site', site.id)).backend_code === 1 ? true : undefined,
    );
    expect(synced).to.include('after-retries');
  });
});
