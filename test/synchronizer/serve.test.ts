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
    // No Site in error; test/deploy/monitoring.test.ts checks an age of a real error.
    expect(m).to.match(/^syncord_objects_error_oldest_seconds\{model="Site"\} 0$/m);
    expect(m).to.match(/^syncord_build_info\{version="[^"]+"\} 1$/m);
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

describe('synchronizer: graceful stop', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  const servers: Server[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await db.drop();
  });

  /** A step whose reconcile of a Site takes `ms`, noting when each began and ended. */
  const slowStep = (name: string, ms: number, notes: string[]): SyncStep => ({
    name: 'memory/site',
    observes: 'Site',
    start: () => {
      notes.push(`${name} starts ${String(Date.now())}`);
      return Promise.resolve();
    },
    sync: async (o, ctx) => {
      notes.push(`${name} begins ${String(o.name)}`);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(new Error('aborted'));
        });
      });
      notes.push(`${name} ends ${String(o.name)} ${String(Date.now())}`);
      return `noted ${String(o.name)}`;
    },
    delete: () => Promise.resolve(undefined),
  });

  const start = async (step: SyncStep, graceMs: number, lines: string[] = []) => {
    const s = await serve({
      registry: db.registry,
      steps: [step],
      databaseUrl: db.url,
      port: 0,
      api: false,
      shutdownGraceMs: graceMs,
      log: (line) => lines.push(line),
    });
    servers.push(s);
    return s;
  };

  it('finishes the reconcile in flight and records it before the standby leads', async () => {
    const notes: string[] = [];
    const a = await start(slowStep('a', 1500, notes), 10_000);
    await eventually('a leads', () => Promise.resolve(a.engine() ? true : undefined));
    const b = await start(slowStep('b', 0, notes), 10_000);
    const site = await db.service.create('Site', { name: 'slow-site' });
    await eventually('a reconciling', () =>
      Promise.resolve(notes.includes('a begins slow-site') ? true : undefined),
    );
    const stopped = a.stop();
    await eventually('b leads', () => Promise.resolve(b.engine() ? true : undefined));
    await stopped;
    const at = (prefix: string) =>
      Number(
        notes
          .find((n) => n.startsWith(prefix))
          ?.split(' ')
          .at(-1) ?? NaN,
      );
    const aEnded = at('a ends slow-site');
    const bStarted = at('b starts');
    expect(aEnded, 'a finished its reconcile').to.be.a('number').and.not.NaN;
    expect(bStarted, 'b started only after a was done').to.be.at.least(aEnded);
    const o = await db.service.get('Site', site.id);
    expect(o.backend_code, 'the outcome was recorded by a').to.equal(1);
    expect(o.backend_status).to.equal('noted slow-site');
  });

  it('aborts a reconcile that outlasts the grace, and still hands over', async () => {
    const notes: string[] = [];
    const lines: string[] = [];
    // b (from the last test) leads; stop it, so that c leads and finds the new site to do.
    for (const s of servers.splice(0)) await s.stop();
    const endless = await db.service.create('Site', { name: 'endless-site' });
    const c = await start(slowStep('c', 30_000, notes), 300, lines);
    await eventually('c reconciling', () =>
      Promise.resolve(notes.some((n) => n.startsWith('c begins')) ? true : undefined),
    );
    const t0 = Date.now();
    await c.stop();
    expect(Date.now() - t0, 'stopped within the grace, not the 30 s reconcile').to.be.below(5000);
    expect(lines.join('\n')).to.match(/reconciles still running after 300 ms; aborting them/);
    expect(notes.some((n) => n.startsWith('c ends'))).to.equal(false);
    const d = await start(slowStep('d', 0, notes), 0);
    await eventually('d leads and syncs the site', async () => {
      const o = await db.service.get('Site', endless.id);
      return d.engine() && o.backend_code === 1 ? true : undefined;
    });
  });
});
