// Model policies: the vSG policy derives an instance's ports from its slice's networks, in one
// transaction with its bookkeeping, so a policy that fails half way leaves nothing behind.
import { expect } from 'chai';
import type { ModelObject, ModelService } from '../../models/service.js';
import { vsgPolicy } from '../../steps/vsg/policy.js';
import { Engine, type ModelPolicy } from '../../synchronizer/engine.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

describe('synchronizer: model policies', function () {
  this.timeout(60_000);
  let db: ScratchDb;
  let svc: ModelService;
  let engine: Engine;
  let breakAfterFirstPort = false;
  let base: Awaited<ReturnType<typeof baseObjects>>;
  let vsg: ModelObject;

  // The real policy, made to fail after its first write when asked: a crash mid-policy.
  const flaky: ModelPolicy = {
    ...vsgPolicy,
    async handle(obj, tx) {
      if (!breakAfterFirstPort) return vsgPolicy.handle(obj, tx);
      const realCreate = tx.create.bind(tx);
      let n = 0;
      tx.create = async (model, values) => {
        const made = await realCreate(model, values);
        if (++n === 1) throw new Error('crashed after the first port');
        return made;
      };
      return vsgPolicy.handle(obj, tx);
    },
  };

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    svc = db.service;
    base = await baseObjects(svc, 'pol');
    vsg = await svc.create('VSGService', { name: 'vsg' });
    engine = new Engine(db.registry, svc, [], {
      url: db.url,
      policies: [flaky],
      backoff: { baseMs: 100, maxMs: 300 },
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop();
    await db.drop();
  });

  const ports = async (siId: number) =>
    (await svc.list('Port', { filter: [{ field: 'service_instance_id', value: siId }] })).items;

  it("gives a vSG instance a port on each of its slice's networks, once", async () => {
    const access = await svc.create('Network', {
      name: 'access',
      subnet: '10.50.0.0/24',
      type: 'VSG',
    });
    const wan = await svc.create('Network', {
      name: 'wan',
      subnet: '10.51.0.0/24',
      type: 'PUBLIC',
    });
    await svc.create('NetworkSlice', { network_id: access.id, slice_id: base.slice.id });
    await svc.create('NetworkSlice', { network_id: wan.id, slice_id: base.slice.id });
    const gw = await svc.create('VSGServiceInstance', {
      name: 'gw-1',
      owner_id: vsg.id,
      slice_id: base.slice.id,
      s_tag: 10,
      c_tag: 20,
    });
    const done = await eventually('policed', async () => {
      const o = await svc.get('VSGServiceInstance', gw.id);
      return o.policed_version === o.version && o.policy_code === 1 ? o : undefined;
    });
    expect(done.version).to.equal(1);
    expect(done.policy_status).to.equal(
      'ports net1 on access (10.50.0.2), net2 on wan (10.51.0.2)',
    );
    const made = await ports(gw.id);
    expect(made.map((p) => [p.interface_name, p.network_id, p.ip])).to.deep.equal([
      ['net1', access.id, '10.50.0.2'],
      ['net2', wan.id, '10.51.0.2'],
    ]);
    // An edit runs it again; it changes nothing that is already right.
    await svc.update('VSGServiceInstance', gw.id, { c_tag: 21 });
    await eventually('policed again', async () => {
      const o = await svc.get('VSGServiceInstance', gw.id);
      return o.policed_version === 2 ? o : undefined;
    });
    expect((await ports(gw.id)).map((p) => p.id)).to.deep.equal(made.map((p) => p.id));
  });

  it('a policy that fails half way leaves nothing, says why, and succeeds on retry', async () => {
    const other = await svc.create('Slice', {
      name: 'pol-slice-2',
      site_id: base.site.id,
      trust_domain_id: base.td.id,
    });
    const m1 = await svc.create('Network', { name: 'm1', subnet: '10.52.0.0/24' });
    const m2 = await svc.create('Network', { name: 'm2', subnet: '10.53.0.0/24' });
    await svc.create('NetworkSlice', { network_id: m1.id, slice_id: other.id });
    await svc.create('NetworkSlice', { network_id: m2.id, slice_id: other.id });
    breakAfterFirstPort = true;
    const gw = await svc.create('VSGServiceInstance', {
      name: 'gw-2',
      owner_id: vsg.id,
      slice_id: other.id,
      s_tag: 11,
      c_tag: 20,
    });
    const failed = await eventually('the policy error', async () => {
      const o = await svc.get('VSGServiceInstance', gw.id);
      return o.policy_code === 2 ? o : undefined;
    });
    expect(failed.policy_status).to.equal('error: crashed after the first port');
    expect(failed.policed_version).to.equal(0);
    expect(await ports(gw.id)).to.deep.equal([]);
    const addresses = await db.sql.query(
      'SELECT 1 FROM syncord_ipam_address WHERE network_id = $1',
      [m1.id],
    );
    expect(addresses.rowCount).to.equal(0);

    breakAfterFirstPort = false;
    await eventually('policed after the retry', async () => {
      const o = await svc.get('VSGServiceInstance', gw.id);
      return o.policy_code === 1 && o.policed_version === 1 ? o : undefined;
    });
    expect((await ports(gw.id)).map((p) => p.interface_name)).to.deep.equal(['net1', 'net2']);
  });
});
