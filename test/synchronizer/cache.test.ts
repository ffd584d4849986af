// The synchronizer's cached view of the models against the rig's PostgreSQL: reads by id and
// lists are served from memory until a change to them is committed, and never afterwards; a read
// under way when its object changes is not kept; the engine's watch feeds it the changes others
// commit.
import { expect } from 'chai';
import { CachedModelService } from '../../synchronizer/cache.js';
import { Engine } from '../../synchronizer/engine.js';
import type { ModelObject } from '../../models/service.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

describe('synchronizer: the cached view of the models', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let cached: CachedModelService;
  let net: ModelObject;

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    cached = new CachedModelService(db.service.pool, db.registry);
    net = await db.service.create('Network', { name: 'mgmt', subnet: '10.9.0.0/24' });
  });
  after(async () => {
    await db.drop();
  });

  it('serves a second read from memory, and a fresh one once the object is invalidated', async () => {
    const first = await cached.get('Network', net.id);
    const misses = cached.cacheStats.misses;
    const second = await cached.get('Network', net.id);
    expect(cached.cacheStats.misses).to.equal(misses);
    expect(second).to.deep.equal(first);
    // A copy each time: a caller that scribbles on it does not change the cache.
    second.mtu = 1;
    expect((await cached.get('Network', net.id)).mtu).to.equal(first.mtu);

    await db.service.update('Network', net.id, { mtu: 1400 });
    // Until the change is told, the old row (the watch tells it within milliseconds)...
    expect((await cached.get('Network', net.id)).mtu).to.equal(first.mtu);
    cached.invalidate('Network', net.id);
    // ...and the new one afterwards.
    expect((await cached.get('Network', net.id)).mtu).to.equal(1400);
  });

  it('answers for the model asked, as the service does (family, deleted objects)', async () => {
    await cached.get('Network', net.id);
    const err = await cached.get('Port', net.id).catch((e: unknown) => e);
    expect((err as Error).name).to.equal('NotFoundError');
    const gone = await db.service.create('Network', { name: 'gone', subnet: '10.9.1.0/24' });
    await cached.get('Network', gone.id);
    await db.service.delete('Network', gone.id);
    cached.invalidate('Network', gone.id);
    const hidden = await cached.get('Network', gone.id).catch((e: unknown) => e);
    expect((hidden as Error).name).to.equal('NotFoundError');
    expect(
      (await cached.get('Network', gone.id, { includeDeleted: true })).deleted_at,
    ).to.not.equal(null);
  });

  it('does not keep a read that was under way when its object changed', async () => {
    cached.invalidate('Network', net.id);
    const reading = cached.get('Network', net.id); // in flight
    cached.invalidate('Network', net.id); // a change committed meanwhile
    await reading;
    const misses = cached.cacheStats.misses;
    await cached.get('Network', net.id);
    expect(cached.cacheStats.misses).to.equal(misses + 1);
  });

  it('its own status writes and transactions forget what they touched', async () => {
    await cached.get('Network', net.id);
    await cached.setStatus('Network', net.id, { backend_code: 1, backend_status: 'made' });
    expect((await cached.get('Network', net.id)).backend_status).to.equal('made');
    await cached.update('Network', net.id, { mtu: 1300 });
    expect((await cached.get('Network', net.id)).mtu).to.equal(1300);
  });

  it('reads many by id in one go: hits from memory, the rest read and kept', async () => {
    const a = await db.service.create('Network', { name: 'many-a', subnet: '10.9.4.0/24' });
    const b = await db.service.create('Network', { name: 'many-b', subnet: '10.9.5.0/24' });
    await db.service.delete('Network', b.id);
    await cached.get('Network', net.id);
    const misses = cached.cacheStats.misses;
    const got = await cached.getMany('Network', [net.id, a.id, b.id, 999_999]);
    // The missing id is left out, and the deleted one unless asked for.
    expect(got.map((o) => o.id).sort()).to.deep.equal([net.id, a.id].sort());
    expect(cached.cacheStats.misses).to.equal(misses + 3);
    const all = await cached.getMany('Network', [net.id, a.id, b.id], { includeDeleted: true });
    expect(all.map((o) => o.id).sort()).to.deep.equal([net.id, a.id, b.id].sort());
    expect(cached.cacheStats.misses).to.equal(misses + 3);
    // Asked as another model of another table: not found, as get says.
    expect(await cached.getMany('Port', [net.id])).to.deep.equal([]);
  });

  it('writes many statuses in one go, changing only what differs, and forgets them', async () => {
    const a = await db.service.create('Network', { name: 'st-a', subnet: '10.9.6.0/24' });
    const b = await db.service.create('Network', { name: 'st-b', subnet: '10.9.7.0/24' });
    await cached.getMany('Network', [a.id, b.id]);
    const head = async () =>
      Number(
        (await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM syncord_change')).rows[0]!.n,
      );
    const before = await head();
    await cached.setStatusMany('Network', [
      { id: a.id, status: { backend_code: 1, backend_status: 'made a', synced_version: 1 } },
      { id: b.id, status: { backend_code: 0, backend_status: 'waiting for b' } },
      { id: 999_999, status: { backend_code: 1, backend_status: 'nobody' } },
    ]);
    expect(await cached.get('Network', a.id)).to.include({
      backend_code: 1,
      backend_status: 'made a',
      synced_version: 1,
      version: 1,
    });
    expect((await cached.get('Network', b.id)).backend_status).to.equal('waiting for b');
    const logged = (await head()) - before;
    expect(logged).to.equal(2);
    // The same again changes no row, so logs no change.
    await cached.setStatusMany('Network', [
      { id: a.id, status: { backend_code: 1, backend_status: 'made a', synced_version: 1 } },
    ]);
    expect((await head()) - before).to.equal(2);
    // A bad write is refused before anything is written, naming the field and the position.
    const err = (await cached
      .setStatusMany('Network', [
        { id: a.id, status: { backend_status: 'fine' } },
        { id: b.id, status: { backend_code: 7 as 1 } },
      ])
      .catch((e: unknown) => e)) as { name: string; errors: { field: string; index?: number }[] };
    expect(err.name).to.equal('ValidationError');
    expect(err.errors[0]).to.include({ field: 'backend_code', index: 1 });
    expect((await db.service.get('Network', a.id)).backend_status).to.equal('made a');
  });

  it('writes feedback in batches for a model without subclasses, and refuses it otherwise', async () => {
    const owner = await db.service.create('Service', { name: 'fb-owner' });
    const si = await db.service.create('ServiceInstance', { name: 'fb-si', owner_id: owner.id });
    const [p1, p2] = await db.service.createMany('Port', [
      { network_id: net.id, service_instance_id: si.id },
      { network_id: net.id, service_instance_id: si.id },
    ]);
    await cached.setStatusMany('Port', [
      { id: p1!.id, status: { feedback: { ovn_up: true, ovn_chassis: 'node-1' } } },
      { id: p2!.id, status: { feedback: { ovn_up: false } } },
    ]);
    expect(await cached.get('Port', p1!.id)).to.include({ ovn_up: true, ovn_chassis: 'node-1' });
    expect(await cached.get('Port', p2!.id)).to.include({ ovn_up: false, ovn_chassis: null });
    expect((await cached.get('Port', p1!.id)).version).to.equal(1);
    const wrong = (await cached
      .setStatusMany('Port', [{ id: p1!.id, status: { feedback: { ip: '10.9.0.9' } } }])
      .catch((e: unknown) => e)) as { errors: { field: string; reason: string }[] };
    expect(wrong.errors[0]).to.deep.include({
      field: 'ip',
      reason: 'is not a feedback field of Port',
    });
    const family = (await cached
      .setStatusMany('ServiceInstance', [
        { id: si.id, status: { feedback: { pod_ip: '10.0.0.1' } } },
      ])
      .catch((e: unknown) => e)) as { errors: { field: string; reason: string }[] };
    expect(family.errors[0]!.reason).to.match(/has subclasses/);
  });

  it('gathers what concurrent callers ask in one turn into one statement, each with its answer', async () => {
    const nets = await db.service.createMany(
      'Network',
      [0, 1, 2].map((i) => ({ name: `gather-${String(i)}`, subnet: `10.19.${String(i)}.0/24` })),
    );
    const owner = await db.service.create('Service', { name: 'gather' });
    const si = await db.service.create('ServiceInstance', { name: 'gather', owner_id: owner.id });
    const other = await db.service.create('ServiceInstance', { name: 'other', owner_id: owner.id });
    const ports = await db.service.createMany(
      'Port',
      nets.map((n) => ({ network_id: n.id, service_instance_id: si.id })),
    );
    // Count the statements the cached service sends.
    const sent: string[] = [];
    const pool = cached.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> };
    const query = pool.query.bind(pool);
    pool.query = (...a: unknown[]) => {
      const q = a[0];
      sent.push(typeof q === 'string' ? q : ((q as { text?: string }).text ?? ''));
      return query(...a);
    };
    try {
      // Reads by id that miss the cache: one statement, each caller its own object (or none).
      for (const n of nets) cached.invalidate('Network', n.id);
      const got = await Promise.all([
        ...nets.map((n) => cached.get('Network', n.id)),
        cached.get('Network', 2_000_000).catch((e: unknown) => (e as Error).name),
      ]);
      expect(got.slice(0, 3).map((o) => (o as ModelObject).name)).to.deep.equal(
        nets.map((n) => n.name),
      );
      expect(got[3]).to.equal('NotFoundError');
      expect(sent).to.have.length(1);
      // Ports of several instances: one statement, grouped by instance, in id order.
      sent.length = 0;
      const [mine, none] = await Promise.all([
        cached.listReferring('Port', 'service_instance', si.id),
        cached.listReferring('Port', 'service_instance', other.id),
      ]);
      expect(mine.map((p) => p.id)).to.deep.equal(ports.map((p) => p.id));
      expect(none).to.deep.equal([]);
      expect(sent).to.have.length(1);
      // Status writes: one statement; two writes of one object merge; a bad one fails alone.
      sent.length = 0;
      const outcomes = await Promise.allSettled([
        cached.writeStatus('Port', ports[0]!.id, { feedback: { observed_ip: '10.19.0.9' } }),
        cached.writeStatus('Port', ports[0]!.id, { feedback: { observed_interface: 'net1' } }),
        cached.writeStatus('Port', ports[1]!.id, { backend_code: 1, backend_status: 'fine' }),
        cached.writeStatus('Port', ports[2]!.id, { feedback: { no_such_field: 1 } }),
      ]);
      expect(outcomes.map((o) => o.status)).to.deep.equal([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
      ]);
      expect(((outcomes[3] as PromiseRejectedResult).reason as Error).name).to.equal(
        'ValidationError',
      );
      const [p0, p1] = await Promise.all([
        db.service.get('Port', ports[0]!.id),
        db.service.get('Port', ports[1]!.id),
      ]);
      expect(p0).to.deep.include({ observed_ip: '10.19.0.9', observed_interface: 'net1' });
      expect(p1).to.deep.include({ backend_code: 1, backend_status: 'fine' });
    } finally {
      pool.query = query;
    }
  });

  it('caches lists until anything in their table changes', async () => {
    const list = () => cached.list('Network', { orderBy: [{ field: 'id' }] });
    const before = (await list()).items.length;
    const misses = cached.cacheStats.misses;
    expect((await list()).items.length).to.equal(before);
    expect(cached.cacheStats.misses).to.equal(misses);
    const added = await db.service.create('Network', { name: 'more', subnet: '10.9.2.0/24' });
    cached.invalidate('Network', added.id);
    expect((await list()).items.length).to.equal(before + 1);
  });

  it("the engine's watch tells its cache what others commit", async () => {
    const seen: unknown[] = [];
    const engine = new Engine(
      db.registry,
      db.service,
      [
        {
          name: 'fake/network',
          observes: 'Network',
          sync: async (o, ctx) => {
            // Reads its object again through the engine's view, as steps do.
            const again = await ctx.models.get('Network', o.id);
            seen.push(again.mtu);
            return `mtu ${String(again.mtu)}`;
          },
          delete: () => Promise.resolve('gone'),
        },
      ],
      { url: db.url, workers: 2, resyncMs: 60 * 60_000 },
    );
    await engine.start();
    try {
      const n = await db.service.create('Network', { name: 'watched', subnet: '10.9.3.0/24' });
      await eventually('synced', async () => {
        const o = await db.service.get('Network', n.id);
        return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
      });
      for (const mtu of [1400, 1300, 9000]) {
        await db.service.update('Network', n.id, { mtu });
        await eventually(`synced at mtu ${String(mtu)}`, async () => {
          const o = await db.service.get('Network', n.id);
          return o.backend_status === `mtu ${String(mtu)}` && o.synced_version === o.version
            ? o
            : undefined;
        });
      }
    } finally {
      await engine.stop();
    }
    expect(seen.at(-1)).to.equal(9000);
  });
});
