// The engine against the rig's PostgreSQL, with steps writing to an in-memory backend (the real
// backends' steps have their own tests against the real processes): status on every object,
// dependency order, backoff, deletion in reverse order, drift repair, restart. All of it twice:
// with steps that take one object at a time, and with steps that allow batches.
import { expect } from 'chai';
import { Engine, type SyncStep } from '../../synchronizer/engine.js';
import { Leader } from '../../synchronizer/leader.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

/** A backend that keeps objects in a map, can be told to refuse some, and logs every call. */
class FakeBackend {
  readonly objects = new Map<string, Record<string, unknown>>();
  readonly calls: string[] = [];
  readonly refuse = new Map<string, string>();
  /** Syncs under way at once, and the most there ever were. */
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly batch?: number) {}

  step(model: string, spec: (o: ModelObject) => Record<string, unknown>): SyncStep {
    return {
      name: `fake/${model}`,
      observes: model,
      batch: this.batch,
      sync: async (o) => {
        const key = `${model}/${typeof o.name === 'string' ? o.name : String(o.id)}`;
        this.calls.push(`sync ${key}`);
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
        // A turn of the event loop, as a backend's answer takes.
        await new Promise((r) => setImmediate(r));
        this.inFlight--;
        const why = this.refuse.get(key);
        if (why) throw new Error(why);
        const existed = this.objects.has(key);
        this.objects.set(key, spec(o));
        return `${existed ? 'updated' : 'created'} ${key}`;
      },
      delete: (o) => {
        const key = `${model}/${typeof o.name === 'string' ? o.name : String(o.id)}`;
        this.calls.push(`delete ${key}`);
        this.objects.delete(key);
        return Promise.resolve(`deleted ${key}`);
      },
    };
  }
}

for (const batch of [undefined, 25]) {
  describe(`synchronizer: the engine${batch ? `, steps in batches of ${String(batch)}` : ''}`, function () {
    this.timeout(60_000);
    let db: ScratchDb;
    let svc: ModelService;
    let backend: FakeBackend;
    let engine: Engine;
    let owner: ModelObject;

    const makeEngine = () =>
      new Engine(
        db.registry,
        svc,
        [
          backend.step('Network', (o) => ({ subnet: o.subnet })),
          backend.step('Port', (o) => ({ ip: o.ip, network: o.network_id })),
          backend.step('TrustDomain', () => ({})),
          backend.step('Principal', (o) => ({ td: o.trust_domain_id })),
          backend.step('NetworkSlice', (o) => ({ network: o.network_id, slice: o.slice_id })),
        ],
        { url: db.url, workers: 4, resyncMs: 60 * 60_000, backoff: { baseMs: 200, maxMs: 1000 } },
      );

    before(async function () {
      this.timeout(45 * 60_000);
      db = await scratchDb();
      svc = db.service;
      backend = new FakeBackend(batch);
      owner = await svc.create('Service', { name: 'owner' });
      engine = makeEngine();
      await engine.start();
    });
    after(async () => {
      await engine.stop();
      await db.drop();
    });

    const ok = (model: string, id: number) =>
      eventually(`${model} ${String(id)} ok`, async () => {
        const o = await svc.get(model, id);
        return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
      });

    it('syncs a new object and records what was done, without bumping its version', async () => {
      const net = await svc.create('Network', { name: 'mgmt', subnet: '10.0.0.0/24' });
      const done = await ok('Network', net.id);
      expect(done).to.include({
        version: 1,
        synced_version: 1,
        backend_code: 1,
        backend_status: 'created Network/mgmt',
        failures: 0,
      });
      expect(backend.objects.get('Network/mgmt')).to.deep.equal({ subnet: '10.0.0.0/24' });
      await svc.update('Network', net.id, { mtu: 1400 });
      const again = await ok('Network', net.id);
      expect(again).to.include({
        version: 2,
        synced_version: 2,
        backend_status: 'updated Network/mgmt',
      });
    });

    it('records an error with a retry time, backs off, and recovers', async () => {
      backend.refuse.set('Network/bad', 'CIDR overlaps access-net');
      const net = await svc.create('Network', { name: 'bad', subnet: '10.1.0.0/24' });
      const failed = await eventually('an error', async () => {
        const o = await svc.get('Network', net.id);
        return (o.failures as number) >= 2 ? o : undefined;
      });
      expect(failed).to.include({
        backend_code: 2,
        backend_status: 'error: CIDR overlaps access-net',
      });
      expect(Date.parse(failed.next_attempt_at as string)).to.be.greaterThan(Date.now() - 1000);
      expect(failed.version).to.equal(1);

      // A port on it waits, naming the network's error, and spends no backoff.
      const si = await svc.create('ServiceInstance', { name: 'si', owner_id: owner.id });
      const port = await svc.create('Port', { network_id: net.id, service_instance_id: si.id });
      const waiting = await eventually('the port waiting', async () => {
        const p = await svc.get('Port', port.id);
        return p.backend_status !== '' ? p : undefined;
      });
      expect(waiting).to.include({
        backend_code: 0,
        failures: 0,
        backend_status: 'waiting for Network bad (error: CIDR overlaps access-net)',
      });
      expect(backend.calls).not.to.include(`sync Port/${String(port.id)}`);

      backend.refuse.delete('Network/bad');
      await ok('Network', net.id);
      const synced = await ok('Port', port.id);
      expect(synced.failures).to.equal(0);
      expect(backend.objects.get(`Port/${String(port.id)}`)).to.deep.equal({
        ip: port.ip,
        network: net.id,
      });
    });

    it('waits through objects without a step for the ones behind them', async () => {
      // A NetworkSlice's Slice has no step, but the Slice's TrustDomain (a namespace) does.
      backend.refuse.set('TrustDomain/tenant-b', 'namespace quota exceeded');
      const td = await svc.create('TrustDomain', { name: 'tenant-b', owner_id: owner.id });
      const site = await svc.create('Site', { name: 'site-b' });
      const slice = await svc.create('Slice', {
        name: 'slice-b',
        site_id: site.id,
        trust_domain_id: td.id,
      });
      const net = await svc.create('Network', { name: 'net-b', subnet: '10.9.0.0/24' });
      // Synced first: the attachment's other dependency, or it may be found waiting for it.
      await ok('Network', net.id);
      const ns = await svc.create('NetworkSlice', { network_id: net.id, slice_id: slice.id });
      const waiting = await eventually('the attachment waiting', async () => {
        const o = await svc.get('NetworkSlice', ns.id);
        return o.backend_status !== '' ? o : undefined;
      });
      expect(waiting.backend_status).to.equal(
        'waiting for TrustDomain tenant-b (error: namespace quota exceeded)',
      );
      backend.refuse.delete('TrustDomain/tenant-b');
      await ok('NetworkSlice', ns.id);
    });

    it('tears down in reverse dependency order, then reaps', async () => {
      const td = await svc.create('TrustDomain', { name: 'tenant', owner_id: owner.id });
      const sa = await svc.create('Principal', { name: 'sa', trust_domain_id: td.id });
      await ok('Principal', sa.id);
      const from = backend.calls.length;
      await svc.delete('TrustDomain', td.id);
      await eventually('both reaped', async () => {
        const left = await db.sql.query(
          'SELECT 1 FROM trust_domain WHERE id = $1 UNION ALL SELECT 1 FROM principal WHERE id = $2',
          [td.id, sa.id],
        );
        return left.rowCount === 0 ? true : undefined;
      });
      expect(backend.calls.slice(from).filter((c) => c.startsWith('delete'))).to.deep.equal([
        'delete Principal/sa',
        'delete TrustDomain/tenant',
      ]);
      expect(backend.objects.has('TrustDomain/tenant')).to.be.false;
    });

    it('a resync repairs what changed behind its back', async () => {
      const net = await svc.create('Network', { name: 'drift', subnet: '10.2.0.0/24' });
      await ok('Network', net.id);
      backend.objects.delete('Network/drift');
      backend.objects.set('Network/mgmt', { subnet: 'tampered' });
      await engine.resync();
      await eventually('repaired', () =>
        Promise.resolve(
          backend.objects.get('Network/drift')?.subnet === '10.2.0.0/24' &&
            backend.objects.get('Network/mgmt')?.subnet === '10.0.0.0/24'
            ? true
            : undefined,
        ),
      );
    });

    it('a new engine picks up edits made while none ran', async () => {
      await engine.stop();
      const net = await svc.create('Network', { name: 'offline', subnet: '10.3.0.0/24' });
      await new Promise((r) => setTimeout(r, 200));
      expect(backend.objects.has('Network/offline')).to.be.false;
      engine = makeEngine();
      await engine.start();
      await ok('Network', net.id);
      expect(backend.objects.has('Network/offline')).to.be.true;
    });

    it('many objects at once: each gets its own status, the failing one alone backs off', async () => {
      const net = await svc.create('Network', { name: 'many', subnet: '10.4.0.0/24' });
      const si = await svc.create('ServiceInstance', { name: 'si-many', owner_id: owner.id });
      const ports = await svc.createMany(
        'Port',
        Array.from({ length: 120 }, () => ({ network_id: net.id, service_instance_id: si.id })),
      );
      const bad = ports[57]!;
      backend.refuse.set(`Port/${String(bad.id)}`, 'no room on the switch');
      backend.maxInFlight = 0;
      await ok('Network', net.id);
      for (const p of ports) if (p !== bad) await ok('Port', p.id);
      const failed = await eventually('the refused port in error', async () => {
        const o = await svc.get('Port', bad.id);
        return o.backend_code === 2 ? o : undefined;
      });
      expect(failed.backend_status).to.equal('error: no room on the switch');
      expect(Date.parse(failed.next_attempt_at as string)).to.be.greaterThan(Date.now() - 1000);
      const good = await svc.get('Port', ports[3]!.id);
      expect(good.backend_status).to.equal(`created Port/${String(ports[3]!.id)}`);
      expect(good.failures).to.equal(0);
      // With batches, a worker runs many syncs at once; without, at most one per worker (4).
      if (batch) expect(backend.maxInFlight).to.be.greaterThan(4);
      else expect(backend.maxInFlight).to.be.at.most(4);
      backend.refuse.delete(`Port/${String(bad.id)}`);
      await ok('Port', bad.id);
    });
  });
}

describe('synchronizer: leadership', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
  });
  after(async () => {
    await db.drop();
  });

  it('one leader at a time; a follower takes over when the leader goes', async () => {
    const a = new Leader(db.url, { intervalMs: 100 });
    const b = new Leader(db.url, { intervalMs: 100 });
    await a.acquire();
    let bLeads = false;
    const bWaits = b.acquire().then(() => (bLeads = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(a.isLeader).to.be.true;
    expect(bLeads).to.be.false;
    const t0 = Date.now();
    await a.release();
    await bWaits;
    expect(Date.now() - t0).to.be.below(5000);
    expect(b.isLeader).to.be.true;
    await b.release();
  });

  it('a leader whose connection is killed knows it has lost', async () => {
    const a = new Leader(db.url, { intervalMs: 100 });
    await a.acquire();
    const lost = new Promise<string>((resolve) => {
      a.onLost(resolve);
    });
    await db.sql.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'syncord-leader' AND datname = current_database()`,
    );
    expect(await lost).to.match(/leader connection/);
    expect(a.isLeader).to.be.false;
    const b = new Leader(db.url, { intervalMs: 100 });
    await b.acquire();
    await b.release();
    await a.release();
  });
});

describe('synchronizer: several backends for one model', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let engine: Engine;
  const a = new FakeBackend();
  const b = new FakeBackend();
  const calls: string[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    const traced = (name: string, backend: FakeBackend): SyncStep => {
      const step = backend.step('Network', (o) => ({ subnet: o.subnet }));
      return {
        ...step,
        name: `${name}/network`,
        sync: (o, ctx) => {
          calls.push(`${name} sync`);
          return step.sync(o, ctx);
        },
        delete: (o, ctx) => {
          calls.push(`${name} delete`);
          return step.delete(o, ctx);
        },
      };
    };
    engine = new Engine(db.registry, db.service, [traced('k8s', a), traced('ovn', b)], {
      url: db.url,
      backoff: { baseMs: 100, maxMs: 300 },
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop();
    await db.drop();
  });

  it('runs every backend in turn, names each in the status, and tears down in reverse', async () => {
    b.refuse.set('Network/both', 'switch refused');
    const net = await db.service.create('Network', { name: 'both', subnet: '10.8.0.0/24' });
    const failed = await eventually('the second backend failing', async () => {
      const o = await db.service.get('Network', net.id);
      return o.backend_code === 2 ? o : undefined;
    });
    expect(failed.backend_status).to.equal('error: ovn: switch refused');
    b.refuse.delete('Network/both');
    const ok = await eventually('both synced', async () => {
      const o = await db.service.get('Network', net.id);
      return o.backend_code === 1 ? o : undefined;
    });
    // The first backend ran again on the retry (steps are idempotent).
    expect(ok.backend_status).to.equal('k8s: updated Network/both; ovn: created Network/both');
    calls.length = 0;
    await db.service.delete('Network', net.id);
    await eventually('reaped', async () =>
      (await db.sql.query('SELECT 1 FROM network WHERE id = $1', [net.id])).rowCount === 0
        ? true
        : undefined,
    );
    expect(calls).to.deep.equal(['ovn delete', 'k8s delete']);
    expect(a.objects.size + b.objects.size).to.equal(0);
  });
});

describe('synchronizer: what an edit affects', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let engine: Engine;
  const backend = new FakeBackend();
  /** The Network edits the port step was asked about. */
  const asked: number[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    const portStep: SyncStep = {
      ...backend.step('Port', (o) => ({ ip: o.ip })),
      // Ports take their network's segment and nothing else from it.
      derivedFrom: { Network: (obj) => JSON.stringify([obj.segment_id]) },
      affectedBy: async (change, ctx) => {
        if (change.model !== 'Network') return [];
        asked.push(change.id);
        const page = await ctx.models.list('Port', {
          filter: [{ field: 'network', value: change.id }],
        });
        return page.items.map((p) => p.id);
      },
    };
    engine = new Engine(
      db.registry,
      db.service,
      [backend.step('Network', (o) => ({ subnet: o.subnet })), portStep],
      { url: db.url, backoff: { baseMs: 100, maxMs: 300 } },
    );
    await engine.start();
  });
  after(async () => {
    await engine.stop();
    await db.drop();
  });

  it("re-runs a Network's ports for an edit of what they take from it, not for other fields", async () => {
    const owner = await db.service.create('Service', { name: 'owner' });
    const si = await db.service.create('ServiceInstance', { name: 'si', owner_id: owner.id });
    const net = await db.service.create('Network', {
      name: 'derived',
      subnet: '10.9.0.0/24',
      segment_id: 100,
    });
    await db.service.create('Port', { network_id: net.id, service_instance_id: si.id });
    const idle = async () => {
      await eventually('the engine idle', async () => {
        const n = await db.service.get('Network', net.id);
        return (n.synced_version === n.version && engine.idle()) || undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
    };
    await idle();
    const count = () => asked.filter((id) => id === net.id).length;
    const atStart = count();
    // The MTU: the network's own step runs, its ports are not asked about.
    await db.service.update('Network', net.id, { mtu: 1400 });
    await idle();
    expect(count()).to.equal(atStart);
    // The segment: they are.
    await db.service.update('Network', net.id, { segment_id: 101 });
    await idle();
    expect(count()).to.equal(atStart + 1);
  });
});
