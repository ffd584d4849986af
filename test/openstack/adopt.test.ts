// Adoption from OpenStack on the rig's real Neutron (`rig/rig up --with openstack`), in process:
// the source's discover and synchronizer/adopt.ts's adopt, then the OpenStack steps in a real
// Engine. A Neutron network with one subnet and two ports made out of band are listed with the
// models they would become (a network with no subnet, and ports with no instance named, say why
// they cannot be adopted), listing writes nothing; an address IPAM gives another Port is refused
// naming the holder, and nothing of the batch is adopted; adopted, they are models with the
// observed values, their handles and static addresses; adopted again, refused; the engine then
// converges with no change to the Neutron objects but Syncord's tags (whole objects compared);
// a Port deleted tears down its Neutron port by its handle, and released ones keep their names.
// No server is booted (the instance is create-only, taken as created). Skipped, saying why, without OpenStack.
import { expect } from 'chai';
import { onRequest, type Session } from '../../backends/openstack/client.js';
import { Neutron, type NeutronNetwork } from '../../backends/openstack/resources.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { openstackStepSet, type OpenStackSteps } from '../../steps/openstack/index.js';
import { adopt, AdoptError, discoverAll, type AdoptCandidate } from '../../synchronizer/adopt.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import {
  adminSession,
  clusterFields,
  openstackOrSkip,
  purgeOpenStack,
  type OsEnv,
} from '../support/openstack.js';
import { eventually, sleep, uniqueName } from '../support/rig.js';

type Json = Record<string, unknown>;

describe('openstack: adoption of Neutron networks and ports made out of band', function () {
  this.timeout(240_000);
  const instance = uniqueName('osadopt');
  const run = uniqueName('osa');
  const log: string[] = [];
  let os: OsEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: OpenStackSteps;
  let engine: Engine | undefined;
  let admin: Session;
  let neutron: Neutron;
  let cluster: ModelObject;
  let si: ModelObject;
  let started = false;
  const third = 10 + (process.pid % 200);
  const base = `10.147.${String(third)}`;
  const at = (host: number) => `${base}.${String(host)}`;
  const mac = (n: number) =>
    `fa:16:3e:${(process.pid % 256).toString(16).padStart(2, '0')}:00:0${String(n)}`;
  /** What was made out of band, by id: removed at the end whatever happened. */
  const made = { networks: [] as string[], ports: [] as string[] };
  let net: NeutronNetwork;
  let bare: NeutronNetwork;
  let subnetId: string;
  let p1: string;
  let p2: string;
  /** Writes (anything but GET) sent to OpenStack while `counting`. */
  const writes: string[] = [];
  let counting = false;
  let off: (() => void) | undefined;

  const key = {
    net: () => `openstack/Network/${String(cluster.name)}/${net.id}`,
    bare: () => `openstack/Network/${String(cluster.name)}/${bare.id}`,
    port: (id: string) => `openstack/Port/${String(cluster.name)}/${id}`,
  };

  const adoptedRows = async () =>
    (
      await db.sql.query<{ model: string; n: string }>(
        `SELECT 'Network' AS model, count(*) AS n FROM network WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Port', count(*) FROM port WHERE backend_handle IS NOT NULL`,
      )
    ).rows.map((r) => `${r.model} ${r.n}`);

  /** The whole objects as Neutron shows them to the admin. */
  async function snapshot(): Promise<Record<string, Json | undefined>> {
    const get = async (kind: string, id: string) =>
      (
        await admin
          .request<Record<string, Json>>('network', 'GET', `/v2.0/${kind}s/${id}`)
          .catch((): Record<string, Json> => ({}))
      )[kind];
    return {
      network: await get('network', net.id),
      subnet: await get('subnet', subnetId),
      p1: await get('port', p1),
      p2: await get('port', p2),
    };
  }

  const candidate = (list: AdoptCandidate[], k: string) => {
    const c = list.find((x) => x.key === k);
    expect(c, `${k} among ${list.map((x) => x.key).join(', ')}`).to.not.equal(undefined);
    return c!;
  };

  before(async function () {
    os = openstackOrSkip(this, 'openstack adopt');
    this.timeout(10 * 60_000);
    db = await scratchDb();
    started = true;
    svc = db.service;
    admin = adminSession(os);
    neutron = new Neutron(admin);
    set = openstackStepSet({ instance, pollMs: 60 * 60_000, log: (l) => log.push(l) });
    cluster = await svc.create('Cluster', clusterFields(os, uniqueName('rig-openstack')));
    // A VM instance on the Cluster, create-only and taken as created (no server is booted, no
    // project made: the steps never write them again).
    const observe = { management_policy: 'create-only' };
    const owner = await svc.create('VNFService', { name: `${run}-svc`, vendor: 'acme' });
    const site = await svc.create('Site', { name: `${run}-site` });
    const td = await svc.create('TrustDomain', { name: run, owner_id: owner.id, ...observe });
    const slice = await svc.create('Slice', {
      name: `${run}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: owner.id,
      cluster_id: cluster.id,
    });
    const image = await svc.create('Image', {
      name: 'cirros',
      tag: run,
      kind: 'vm',
      path: 'cirros',
    });
    const flavor = await svc.create('Flavor', { name: `${run}-tiny`, flavor: 'm1.tiny' });
    si = await svc.create('VNFServiceInstance', {
      name: `${run}-fw`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
      flavor_id: flavor.id,
      workload: 'vm',
      ...observe,
    });
    for (const o of [td, si]) {
      const table = db.registry.get(db.registry.get(o.leaf_model).root).table;
      await db.sql.query(
        `UPDATE ${table} SET backend_code = 1, backend_status = 'taken as created', synced_version = version WHERE id = $1`,
        [o.id],
      );
    }
    // What an operator made by hand: a network (with a tag of their own), its subnet, two ports;
    // and a network with no subnet.
    net = await neutron.createNetwork({ name: `${run}-net`, tags: ['team=red'] });
    made.networks.push(net.id);
    const subnet = await neutron.createSubnet({
      network_id: net.id,
      name: `${run}-subnet`,
      cidr: `${base}.0/24`,
      gateway_ip: at(1),
      enable_dhcp: true,
      allocation_pools: [{ start: at(200), end: at(210) }],
      tags: [],
    });
    subnetId = subnet.id;
    for (const [n, host] of [
      [1, 5],
      [2, 6],
    ] as const) {
      const p = await neutron.createPort({
        network_id: net.id,
        name: `${run}-p${String(n)}`,
        mac_address: mac(n),
        fixed_ips: [{ subnet_id: subnet.id, ip_address: at(host) }],
        tags: [],
      });
      made.ports.push(p.id);
      if (n === 1) p1 = p.id;
      else p2 = p.id;
    }
    bare = await neutron.createNetwork({ name: `${run}-bare`, tags: [] });
    made.networks.push(bare.id);
    off = onRequest((r) => {
      // (A token is no write to the objects.)
      if (counting && r.method !== 'GET' && r.path !== '/v3/auth/tokens')
        writes.push(`${r.service} ${r.method} ${r.path}`);
    });
  });

  after(async function () {
    this.timeout(180_000);
    if (!started) return;
    off?.();
    await engine?.stop();
    for (const id of made.ports) await neutron.deletePort(id).catch(() => undefined);
    for (const id of made.networks) await neutron.deleteNetwork(id).catch(() => undefined);
    await purgeOpenStack(admin, instance);
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.log(
        log
          .filter((l) => !/^(VNF)?(Service|TrustDomain)/.test(l))
          .slice(-40)
          .join('\n'),
      );
    }
  });

  it('lists the network and its ports with the models they would become, says why others cannot be adopted, and writes nothing', async () => {
    const before = await snapshot();
    counting = true;
    const { candidates, failures } = await discoverAll(svc, [set.source], {
      instance: si.name as string,
    });
    counting = false;
    expect(failures).to.deep.equal([]);
    // Neutron's own port (OVN metadata) on the network: its address kept off IPAM.
    const own = (await neutron.ports({ network_id: net.id })).filter((p) =>
      p.device_owner.startsWith('network:'),
    );
    const ownIps = own.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)).sort();
    const n = candidate(candidates, key.net());
    expect(n).to.deep.include({
      backend: 'openstack',
      kind: 'Network',
      name: net.id,
      model: 'Network',
      handle: { 'openstack/Network': net.id },
    });
    expect(n.problem).to.equal(undefined);
    expect(n.values).to.deep.equal({
      name: `${run}-net`,
      provider: 'ovn',
      type: 'FLAT',
      subnet: `${base}.0/24`,
      gateway: at(1),
      dhcp: true,
      mtu: net.mtu,
      ...(ownIps.length ? { exclude_ips: ownIps.join(' ') } : {}),
    });
    for (const [id, n2, host] of [
      [p1, 1, 5],
      [p2, 2, 6],
    ] as const) {
      const c = candidate(candidates, key.port(id));
      expect(c.problem, c.key).to.equal(undefined);
      expect(c.values).to.deep.equal({
        name: `${run}-p${String(n2)}`,
        ip: at(host),
        mac: mac(n2),
        service_instance_id: si.id,
      });
      expect(c.refs).to.deep.equal({ network_id: key.net() });
      expect(c.handle).to.deep.equal({ 'openstack/Port': id });
    }
    // Neutron's own ports are no one's interface: not listed.
    for (const p of own) expect(candidates.map((c) => c.name)).to.not.include(p.id);
    expect(candidate(candidates, key.bare()).problem).to.equal(
      'it has no subnet (Syncord would make one)',
    );
    // Without an instance, a port says what it lacks.
    const alone = await discoverAll(svc, [set.source], { kinds: ['Port'] });
    expect(candidate(alone.candidates, key.port(p1)).problem).to.match(/^its instance is unknown/);
    expect(writes).to.deep.equal([]);
    expect(await snapshot()).to.deep.equal(before);
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
  });

  it('refuses a port whose address IPAM gives another Port, naming the holder; nothing of the batch is adopted', async () => {
    // A Network of Syncord's (its Neutron network tagged as this deployment's), an address held.
    const heldBase = `10.148.${String(third)}`;
    const held = await svc.create('Network', {
      name: `${run}-held`,
      subnet: `${heldBase}.0/24`,
      management_policy: 'observe',
    });
    const holder = await svc.create('Port', {
      name: `${run}-taken`,
      network_id: held.id,
      service_instance_id: si.id,
      ip: `${heldBase}.9`,
      management_policy: 'observe',
    });
    const heldNet = await neutron.createNetwork({
      name: `syncord-${instance}-Network-${String(held.id)}`,
      tags: set.runtime.tagsFor({ model: 'Network', id: held.id }),
    });
    made.networks.push(heldNet.id);
    const heldSubnet = await neutron.createSubnet({
      network_id: heldNet.id,
      name: `syncord-${instance}-Network-${String(held.id)}`,
      cidr: `${heldBase}.0/24`,
      gateway_ip: `${heldBase}.1`,
      enable_dhcp: false,
      tags: [],
    });
    const intruder = await neutron.createPort({
      network_id: heldNet.id,
      name: `${run}-intruder`,
      mac_address: mac(9),
      fixed_ips: [{ subnet_id: heldSubnet.id, ip_address: `${heldBase}.9` }],
      tags: [],
    });
    made.ports.push(intruder.id);
    try {
      const { candidates } = await discoverAll(svc, [set.source], { instance: si.name as string });
      const c = candidate(candidates, key.port(intruder.id));
      expect(c.values.network_id).to.equal(held.id);
      expect(c.refs).to.equal(undefined);
      const batch = [candidate(candidates, key.net()), candidate(candidates, key.port(p1)), c];
      let err: unknown;
      try {
        await adopt(svc, batch);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AdoptError);
      expect((err as Error).message).to.equal(
        `${c.key}: as Port: ip: ${heldBase}.9 is held by Port ${String(holder.id)} (${run}-taken of ${si.leaf_model} ${String(si.id)}) on Network ${run}-held`,
      );
      expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
      expect((await neutron.port(intruder.id))?.tags).to.deep.equal([]);
    } finally {
      await neutron.deletePort(intruder.id);
      await neutron.deleteNetwork(heldNet.id);
      await svc.delete('Port', holder.id);
      await svc.delete('Network', held.id);
    }
  });

  it('adopts the network and its ports as models with the observed values, handles and static addresses; adopted again, refused', async () => {
    const { candidates } = await discoverAll(svc, [set.source], { instance: si.name as string });
    const batch = [key.net(), key.port(p1), key.port(p2)].map((k) => candidate(candidates, k));
    counting = true;
    const done = await adopt(svc, batch);
    counting = false;
    expect(writes).to.deep.equal([]);
    expect(done.map((d) => [d.key, d.model])).to.deep.equal([
      [key.net(), 'Network'],
      [key.port(p1), 'Port'],
      [key.port(p2), 'Port'],
    ]);
    const network = await svc.get('Network', done[0]!.id);
    expect(network).to.include({
      name: `${run}-net`,
      subnet: `${base}.0/24`,
      gateway: at(1),
      dhcp: true,
      type: 'FLAT',
    });
    expect(network.backend_handle).to.deep.equal({ 'openstack/Network': net.id });
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network.id }] }))
      .items;
    expect(
      ports.map((p) => [p.name, p.ip, p.mac, p.service_instance_id, p.backend_handle]).sort(),
    ).to.deep.equal([
      [`${run}-p1`, at(5), mac(1), si.id, { 'openstack/Port': p1 }],
      [`${run}-p2`, at(6), mac(2), si.id, { 'openstack/Port': p2 }],
    ]);
    const held = await db.sql.query(
      `SELECT host(address) AS address, static FROM syncord_ipam_address WHERE network_id = $1 ORDER BY address`,
      [network.id],
    );
    expect(held.rows).to.deep.equal([
      { address: at(5), static: true },
      { address: at(6), static: true },
    ]);
    // Adopted already (not marked yet): listed so, and refused.
    const again = await discoverAll(svc, [set.source], { instance: si.name as string });
    expect(candidate(again.candidates, key.net()).problem).to.equal(
      `adopted already as Network ${String(network.id)}`,
    );
    let err: unknown;
    try {
      await adopt(svc, [{ ...candidate(again.candidates, key.net()), problem: undefined }]);
    } catch (e) {
      err = e;
    }
    expect((err as Error | undefined)?.message).to.equal(
      `${key.net()}: adopted already as Network ${String(network.id)}`,
    );
    expect(await adoptedRows()).to.deep.equal(['Network 1', 'Port 2']);
  });

  it('converges with no change to the Neutron objects but Syncord tags, and records them', async () => {
    const before = await snapshot();
    counting = true;
    engine = new Engine(db.registry, svc, set.steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      observeMs: 500,
      backoff: { baseMs: 300, maxMs: 1500 },
      log: (l) => log.push(l),
    });
    await engine.start();
    const [network] = (
      await svc.list('Network', { filter: [{ field: 'name', value: `${run}-net` }] })
    ).items;
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    const synced = async (o: ModelObject) =>
      eventually(
        `${o.leaf_model} ${String(o.id)} synced`,
        async () => {
          const x = await svc.get(o.leaf_model, o.id);
          if (x.backend_code === 2) throw new Error(String(x.backend_status));
          return x.backend_code === 1 && x.synced_version === x.version ? x : undefined;
        },
        120_000,
      ).catch(async (err: unknown) => {
        const x = await svc.get(o.leaf_model, o.id);
        throw new Error(`${String(err)}: ${String(x.backend_code)} ${String(x.backend_status)}`, {
          cause: err,
        });
      });
    for (const o of [network!, ...ports]) await synced(o);
    await engine.resync();
    await sleep(3000);
    for (const o of [network!, ...ports]) await synced(o);
    counting = false;
    // Only the tags were written: the network's, its subnet's and the ports'.
    expect([...new Set(writes)].sort()).to.deep.equal(
      [
        `network PUT /v2.0/networks/${net.id}/tags`,
        `network PUT /v2.0/subnets/${subnetId}/tags`,
        `network PUT /v2.0/ports/${p1}/tags`,
        `network PUT /v2.0/ports/${p2}/tags`,
      ].sort(),
    );
    const after = await snapshot();
    const rest = (o: Json | undefined) =>
      Object.fromEntries(
        Object.entries(o ?? {}).filter(
          ([k]) => !['tags', 'revision_number', 'updated_at'].includes(k),
        ),
      );
    for (const k of Object.keys(before)) {
      expect(rest(after[k]), k).to.deep.equal(rest(before[k]));
      const owner =
        k === 'p1' || k === 'p2'
          ? `syncord-owner=Port:${String(ports.find((p) => p.backend_handle && (p.backend_handle as Json)['openstack/Port'] === (k === 'p1' ? p1 : p2))!.id)}`
          : `syncord-owner=Network:${String(network!.id)}`;
      expect((after[k]!.tags as string[]).slice().sort(), k).to.deep.equal(
        [...(before[k]!.tags as string[]), `syncord-instance=${instance}`, owner].sort(),
      );
    }
    // The operator's own tag is still there.
    expect(after.network!.tags).to.include('team=red');
    // Recorded as the server step records what it makes.
    expect((await svc.get('Network', network!.id)).neutron_network_id).to.equal(net.id);
    for (const p of ports) {
      const x = await svc.get('Port', p.id);
      const id = (p.backend_handle as Json)['openstack/Port'];
      expect(x).to.include({ port_id: id, observed_ip: p.ip, observed_mac: p.mac });
    }
    const first = await db.sql.query<{ backend_status: string }>(
      `SELECT backend_status FROM network WHERE id = $1`,
      [network!.id],
    );
    expect(first.rows[0]?.backend_status).to.match(new RegExp(`Neutron network ${net.id}`));
  });

  it('a Port deleted tears down its Neutron port by its handle; released ones keep their names and lose the tags', async () => {
    const [network] = (
      await svc.list('Network', { filter: [{ field: 'name', value: `${run}-net` }] })
    ).items;
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    const byHandle = (id: string) =>
      ports.find((p) => (p.backend_handle as Json)['openstack/Port'] === id)!;
    await svc.delete('Port', byHandle(p2).id);
    await eventually(
      'the Neutron port of the deleted Port gone',
      async () => ((await neutron.port(p2)) ? undefined : true),
      120_000,
    );
    // Orphaned: the port and the network stay, as the operator made them.
    await svc.update('Port', byHandle(p1).id, { deletion_policy: 'orphan' });
    await svc.update('Network', network!.id, { deletion_policy: 'orphan' });
    await eventually('updated', async () => {
      const x = await svc.get('Network', network!.id);
      return x.synced_version === x.version ? true : undefined;
    });
    await svc.delete('Port', byHandle(p1).id);
    await svc.delete('Network', network!.id);
    await eventually(
      'the released objects untagged',
      async () => {
        const s = await snapshot();
        const tags = [s.network?.tags, s.subnet?.tags, s.p1?.tags] as (string[] | undefined)[];
        return tags.every((t) => t && !t.some((x) => x.startsWith('syncord-'))) ? s : undefined;
      },
      120_000,
    );
    const s = await snapshot();
    expect(s.network).to.include({ name: `${run}-net` });
    expect(s.network!.tags).to.deep.equal(['team=red']);
    expect(s.subnet).to.include({ name: `${run}-subnet` });
    expect(s.p1).to.include({ name: `${run}-p1` });
  });
});
