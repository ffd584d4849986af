// Adoption from OpenStack on the rig's real Neutron (`rig/rig up --with openstack`), in process:
// the source's discover and synchronizer/adopt.ts's adopt, then the OpenStack steps in a real
// Engine. A Neutron network with one subnet and two ports made out of band are listed with the
// models they would become (a network with no subnet, and ports with no instance named, say why
// they cannot be adopted), listing writes nothing; an address IPAM gives another Port is refused
// naming the holder, and nothing of the batch is adopted; adopted, they are models with the
// observed values, their handles and static addresses; adopted again, refused; the engine then
// converges with no change to the Neutron objects but Syncord's tags (whole objects compared);
// a Port deleted tears down its Neutron port by its handle, and released ones keep their names.
// No server is booted (the instance is create-only, taken as created).
//
// Then Nova servers an operator booted in a project of their own, each on a Neutron port of their
// own network: listed (with --kind Server) as an OpenStackServiceInstance with the models its
// flavor (an existing Flavor), image, project (a new Image, TrustDomain and Slice), port and
// network become, listing writing nothing; a server whose port has two addresses, listed and
// refused with that reason, and one whose port has an address IPAM gives another Port, refused
// naming the holder, nothing adopted either time; adopted, the models have the observed values;
// the engine converges with no write but the marks (the server's tags and metadata, the port's,
// network's and subnet's tags: whole objects compared) and no reboot; deleted with
// deletion_policy orphan, the server keeps running on its port, unmarked, with its own name.
// Skipped, saying why, without OpenStack.
import { expect } from 'chai';
import { onRequest, Session } from '../../backends/openstack/client.js';
import {
  Glance,
  Keystone,
  Neutron,
  Nova,
  type NeutronNetwork,
} from '../../backends/openstack/resources.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { openstackStepSet, type OpenStackSteps } from '../../steps/openstack/index.js';
import {
  adopt,
  AdoptError,
  discoverAll,
  networkIdentity,
  portIdentity,
  type AdoptCandidate,
} from '../../synchronizer/adopt.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { startTestEngine } from '../support/engine.js';
import {
  adminSession,
  clusterFields,
  openstackOrSkip,
  purgeOpenStack,
  type OsEnv,
} from '../support/openstack.js';
import { eventually, sleep, uniqueName } from '../support/rig.js';
import { synced } from '../support/synced.js';

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

describe('openstack: adoption of Nova servers booted out of band', function () {
  this.timeout(240_000);
  const instance = uniqueName('osadsrv');
  const run = uniqueName('oss');
  const log: string[] = [];
  let os: OsEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: OpenStackSteps;
  let engine: Engine | undefined;
  let admin: Session;
  let nova: Nova;
  let cluster: ModelObject;
  let service: ModelObject;
  let site: ModelObject;
  let flavor: ModelObject;
  let project: { id: string; name: string };
  let started = false;
  const third = 10 + ((process.pid + 7) % 200);
  const base = `10.149.${String(third)}`;
  const heldBase = `10.150.${String(third)}`;
  const at = (host: number) => `${base}.${String(host)}`;
  const mac = (n: number) =>
    `fa:16:3e:${(process.pid % 256).toString(16).padStart(2, '0')}:01:0${String(n)}`;
  /** What was made out of band: removed at the end whatever happened. */
  const made = {
    servers: [] as string[],
    ports: [] as string[],
    networks: [] as string[],
    projects: [] as string[],
  };
  let net: NeutronNetwork;
  let subnetId: string;
  /** The server to adopt, on one port; one with a port of two addresses; one on a held address. */
  const vm = { server: '', port: '' };
  const odd = { server: '', port: '' };
  const taken = { server: '', port: '' };
  let held: ModelObject;
  let holder: ModelObject;
  const writes: string[] = [];
  let counting = false;
  let off: (() => void) | undefined;
  const NOVA = { 'openstack-api-version': 'compute 2.52' };

  const key = {
    server: (id: string) => `openstack/Server/${String(cluster.name)}/${id}`,
    port: (id: string) => `openstack/Port/${String(cluster.name)}/${id}`,
    net: () => `openstack/Network/${String(cluster.name)}/${net.id}`,
    image: () => 'openstack/Image/cirros',
    td: () => `openstack/Project/${String(cluster.name)}/${project.id}`,
    slice: () => `openstack/Slice/${String(cluster.name)}/${project.id}`,
  };

  const candidate = (list: AdoptCandidate[], k: string) => {
    const c = list.find((x) => x.key === k);
    expect(c, `${k} among ${list.map((x) => x.key).join(', ')}`).to.not.equal(undefined);
    return c!;
  };

  /** Rows adopted (a backend handle, empty for the models adopted with no backend object). */
  const adoptedRows = async () =>
    (
      await db.sql.query<{ model: string; n: string }>(
        `SELECT 'ServiceInstance' AS model, count(*) AS n FROM service_instance WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Port', count(*) FROM port WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Network', count(*) FROM network WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Image', count(*) FROM image WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'TrustDomain', count(*) FROM trust_domain WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Slice', count(*) FROM slice WHERE backend_handle IS NOT NULL`,
      )
    ).rows.map((r) => `${r.model} ${r.n}`);
  const none = ['ServiceInstance 0', 'Port 0', 'Network 0', 'Image 0', 'TrustDomain 0', 'Slice 0'];

  /** The server and its port as Nova and Neutron show them to the admin. */
  async function snapshot(): Promise<{ server?: Json; port?: Json }> {
    const server = await admin
      .request<{ server: Json }>('compute', 'GET', `/servers/${vm.server}`, { headers: NOVA })
      .then((r) => r.server)
      .catch(() => undefined);
    const port = await admin
      .request<{ port: Json }>('network', 'GET', `/v2.0/ports/${vm.port}`)
      .then((r) => r.port)
      .catch(() => undefined);
    return { server, port };
  }
  /** An object without what marking it changes. */
  const rest = (o: Json | undefined) =>
    Object.fromEntries(
      Object.entries(o ?? {}).filter(
        ([k]) => !['tags', 'metadata', 'updated', 'updated_at', 'revision_number'].includes(k),
      ),
    );

  before(async function () {
    os = openstackOrSkip(this, 'openstack adopt servers');
    this.timeout(10 * 60_000);
    db = await scratchDb();
    started = true;
    svc = db.service;
    admin = adminSession(os);
    nova = new Nova(admin);
    set = openstackStepSet({ instance, pollMs: 60 * 60_000, log: (l) => log.push(l) });
    cluster = await svc.create('Cluster', clusterFields(os, uniqueName('rig-openstack')));
    service = await svc.create('OpenStackService', { name: `${run}-os` });
    site = await svc.create('Site', { name: `${run}-site` });
    // A Flavor for the rig's m1.tiny exists; the image, trust domain and slice do not.
    flavor = await svc.create('Flavor', { name: `${run}-tiny`, flavor: 'm1.tiny' });
    // An operator's project, where the admin works as a member (as Syncord's user would).
    const keystone = new Keystone(admin);
    const domain = await keystone.domainId(os.OS_PROJECT_DOMAIN_NAME);
    project = await keystone.createProject({
      name: `${run}-proj`,
      domain_id: domain,
      description: 'an operator project (adopt test)',
      tags: [],
    });
    made.projects.push(project.id);
    await keystone.grant(project.id, await admin.userId(), await keystone.roleId('member'));
    const mine = new Session({
      authUrl: os.OS_AUTH_URL,
      regionName: os.OS_REGION_NAME,
      username: os.OS_USERNAME,
      password: os.OS_PASSWORD,
      userDomainName: os.OS_USER_DOMAIN_NAME,
      projectName: project.name,
      projectDomainName: os.OS_PROJECT_DOMAIN_NAME,
    });
    const neutron = new Neutron(mine);
    net = await neutron.createNetwork({ name: `${run}-net`, tags: [] });
    made.networks.push(net.id);
    const subnet = await neutron.createSubnet({
      network_id: net.id,
      name: `${run}-subnet`,
      cidr: `${base}.0/24`,
      gateway_ip: at(1),
      enable_dhcp: false,
      tags: [],
    });
    subnetId = subnet.id;
    const port = async (
      name: string,
      network: string,
      ips: { subnet_id: string; ip_address: string }[],
      n: number,
    ) => {
      const p = await neutron.createPort({
        network_id: network,
        name,
        mac_address: mac(n),
        fixed_ips: ips,
        tags: ['team=blue'],
      });
      made.ports.push(p.id);
      return p.id;
    };
    vm.port = await port(
      `${run}-vm-eth0`,
      net.id,
      [{ subnet_id: subnet.id, ip_address: at(5) }],
      1,
    );
    odd.port = await port(
      `${run}-odd-eth0`,
      net.id,
      [
        { subnet_id: subnet.id, ip_address: at(7) },
        { subnet_id: subnet.id, ip_address: at(8) },
      ],
      2,
    );
    // A Network of Syncord's (its Neutron network tagged as this deployment's) whose address .9
    // IPAM gives a Port of its own.
    held = await svc.create('Network', {
      name: `${run}-held`,
      subnet: `${heldBase}.0/24`,
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
    taken.port = await port(
      `${run}-taken-eth0`,
      heldNet.id,
      [{ subnet_id: heldSubnet.id, ip_address: `${heldBase}.9` }],
      3,
    );
    // Booted by the operator, in their project: the rig's flavor and image, user data, their own
    // tag and metadata.
    const tiny = (await nova.flavors()).find((f) => f.name === 'm1.tiny')!;
    const [cirros] = await new Glance(admin).images({ name: 'cirros' });
    const boot = async (name: string, portId: string) => {
      const r = await mine.request<{ server: { id: string } }>('compute', 'POST', '/servers', {
        headers: NOVA,
        body: {
          server: {
            name,
            flavorRef: tiny.id,
            imageRef: cirros!.id,
            networks: [{ port: portId }],
            user_data: Buffer.from(`#cloud-config\nhostname: ${name}\n`).toString('base64'),
            metadata: { team: 'blue' },
            tags: ['team=blue'],
          },
        },
      });
      made.servers.push(r.server.id);
      return r.server.id;
    };
    vm.server = await boot(`${run}-vm`, vm.port);
    odd.server = await boot(`${run}-odd`, odd.port);
    taken.server = await boot(`${run}-taken`, taken.port);
    for (const id of [vm.server, odd.server, taken.server]) {
      await eventually(
        `server ${id} ACTIVE`,
        async () => {
          const s = await nova.server(id);
          if (s?.status === 'ERROR') throw new Error(`server ${id} went to ERROR`);
          return s?.status === 'ACTIVE' ? true : undefined;
        },
        120_000,
      );
    }
    holder = await svc.create('Port', {
      name: `${run}-holder`,
      network_id: held.id,
      service_instance_id: (
        await svc.create('OpenStackServiceInstance', {
          name: `${run}-other`,
          owner_id: service.id,
          slice_id: (
            await svc.create('Slice', {
              name: `${run}-elsewhere`,
              site_id: site.id,
              trust_domain_id: (
                await svc.create('TrustDomain', {
                  name: `${run}-elsewhere`,
                  owner_id: service.id,
                  management_policy: 'observe',
                })
              ).id,
            })
          ).id,
          image_id: (await svc.create('Image', { name: `${run}-img`, kind: 'vm' })).id,
          flavor_id: flavor.id,
          management_policy: 'observe',
        })
      ).id,
      ip: `${heldBase}.9`,
      management_policy: 'observe',
    });
    off = onRequest((r) => {
      if (counting && r.method !== 'GET' && r.path !== '/v3/auth/tokens')
        writes.push(`${r.service} ${r.method} ${r.path}`);
    });
  });

  after(async function () {
    this.timeout(180_000);
    if (!started) return;
    off?.();
    await engine?.stop();
    for (const id of made.servers) await nova.deleteServer(id).catch(() => undefined);
    await eventually(
      'servers gone',
      async () => {
        for (const id of made.servers) if (await nova.server(id)) return undefined;
        return true;
      },
      60_000,
    ).catch(() => undefined);
    const neutron = new Neutron(admin);
    for (const id of made.ports) await neutron.deletePort(id).catch(() => undefined);
    for (const id of made.networks) await neutron.deleteNetwork(id).catch(() => undefined);
    await purgeOpenStack(admin, instance);
    for (const id of made.projects)
      await new Keystone(admin).deleteProject(id).catch(() => undefined);
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  it('lists a server with the models it, its port and its network would become (an existing Flavor; a new Image, trust domain and slice), says why others cannot be adopted, and writes nothing', async () => {
    const before = await snapshot();
    counting = true;
    const { candidates, failures } = await discoverAll(svc, [set.source], { kinds: ['Server'] });
    counting = false;
    expect(failures).to.deep.equal([]);
    const s = candidate(candidates, key.server(vm.server));
    expect(s.problem, s.key).to.equal(undefined);
    expect(s).to.deep.include({
      backend: 'openstack',
      kind: 'Server',
      name: vm.server,
      model: 'OpenStackServiceInstance',
      handle: { 'openstack/Server': vm.server },
    });
    expect(s.values).to.deep.equal({
      name: `${run}-vm`,
      owner_id: service.id,
      user_data: `#cloud-config\nhostname: ${run}-vm\n`,
      flavor_id: flavor.id,
    });
    expect(s.refs).to.deep.equal({ image_id: key.image(), slice_id: key.slice() });
    const p = candidate(candidates, key.port(vm.port));
    expect(p.problem, p.key).to.equal(undefined);
    expect(p).to.deep.include({
      model: 'Port',
      values: { name: `${run}-vm-eth0`, ip: at(5), mac: mac(1) },
      refs: { service_instance_id: s.key, network_id: key.net() },
      handle: { 'openstack/Port': vm.port },
      identity: portIdentity(mac(1)),
    });
    const n = candidate(candidates, key.net());
    expect(n.problem).to.equal(undefined);
    expect(n).to.deep.include({
      model: 'Network',
      handle: { 'openstack/Network': net.id },
      identity: networkIdentity(`${base}.0/24`),
    });
    expect(n.values).to.include({ name: `${run}-net`, subnet: `${base}.0/24`, gateway: at(1) });
    expect(candidate(candidates, key.image())).to.deep.include({
      model: 'Image',
      values: {
        name: 'cirros',
        kind: 'vm',
        path: 'cirros',
        disk_format: 'raw',
        container_format: 'bare',
      },
      handle: {},
    });
    expect(candidate(candidates, key.td())).to.deep.include({
      model: 'TrustDomain',
      values: { name: project.name, owner_id: service.id },
      handle: {},
    });
    expect(candidate(candidates, key.slice())).to.deep.include({
      model: 'Slice',
      values: {
        name: `${project.name}-${String(cluster.name)}`,
        cluster_id: cluster.id,
        site_id: site.id,
        service_id: service.id,
      },
      refs: { trust_domain_id: key.td() },
      handle: {},
    });
    // A port of two addresses: the server is listed with it as its problem, and its port says so.
    const o = candidate(candidates, key.server(odd.server));
    expect(o.problem).to.equal(`its port ${odd.port}: it has 2 addresses (a Port has exactly one)`);
    expect(candidate(candidates, key.port(odd.port)).problem).to.equal(
      `its server ${run}-odd cannot be adopted: ${o.problem ?? ''}`,
    );
    // Its port alone: adopted with its server only.
    const ports = await discoverAll(svc, [set.source], { kinds: ['Port'] });
    expect(candidate(ports.candidates, key.port(vm.port)).problem).to.equal(
      `it is attached to Nova server ${vm.server}: a server's ports are adopted with it (syncord adopt --kind Server)`,
    );
    expect(writes).to.deep.equal([]);
    expect(await snapshot()).to.deep.equal(before);
    expect(await adoptedRows()).to.deep.equal(none);
  });

  it('refuses a server Syncord cannot represent, and one whose port has an address IPAM gives another Port (naming the holder); nothing is adopted', async () => {
    const { candidates } = await discoverAll(svc, [set.source], { kinds: ['Server'] });
    const o = candidate(candidates, key.server(odd.server));
    let err: unknown;
    try {
      await adopt(svc, [
        { ...o, problem: undefined },
        candidate(candidates, key.port(odd.port)),
        candidate(candidates, key.net()),
        candidate(candidates, key.image()),
        candidate(candidates, key.td()),
        candidate(candidates, key.slice()),
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(AdoptError);
    expect((err as Error).message).to.equal(
      `${key.port(odd.port)}: its server ${run}-odd cannot be adopted: its port ${odd.port}: it has 2 addresses (a Port has exactly one)`,
    );
    expect(await adoptedRows()).to.deep.equal(none);
    // On a Network of Syncord's, an address its IPAM gives another Port.
    const t = candidate(candidates, key.server(taken.server));
    expect(t.problem, t.key).to.equal(undefined);
    const tp = candidate(candidates, key.port(taken.port));
    expect(tp.values).to.include({ network_id: held.id, ip: `${heldBase}.9` });
    err = undefined;
    try {
      await adopt(svc, [
        t,
        tp,
        candidate(candidates, key.image()),
        candidate(candidates, key.td()),
        candidate(candidates, key.slice()),
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(AdoptError);
    expect((err as Error).message).to.equal(
      `${tp.key}: as Port: ip: ${heldBase}.9 is held by Port ${String(holder.id)} (${run}-holder of OpenStackServiceInstance ${String(holder.service_instance_id)}) on Network ${run}-held`,
    );
    expect(await adoptedRows()).to.deep.equal(none);
    expect((await nova.server(taken.server))?.tags).to.deep.equal(['team=blue']);
  });

  it('adopts the server with its port, network, image, trust domain and slice as models with the observed values', async () => {
    const { candidates } = await discoverAll(svc, [set.source], { kinds: ['Server'] });
    const batch = [
      key.server(vm.server),
      key.port(vm.port),
      key.net(),
      key.image(),
      key.td(),
      key.slice(),
    ].map((k) => candidate(candidates, k));
    counting = true;
    const done = await adopt(svc, batch);
    counting = false;
    expect(writes).to.deep.equal([]);
    const id = (k: string) => done.find((d) => d.key === k)!.id;
    const si = await svc.get('OpenStackServiceInstance', id(key.server(vm.server)));
    expect(si).to.include({
      name: `${run}-vm`,
      owner_id: service.id,
      flavor_id: flavor.id,
      image_id: id(key.image()),
      slice_id: id(key.slice()),
      user_data: `#cloud-config\nhostname: ${run}-vm\n`,
    });
    expect(si.backend_handle).to.deep.equal({ 'openstack/Server': vm.server });
    expect(await svc.get('Image', id(key.image()))).to.include({
      name: 'cirros',
      tag: 'latest',
      kind: 'vm',
      path: 'cirros',
    });
    expect(await svc.get('Slice', id(key.slice()))).to.include({
      cluster_id: cluster.id,
      trust_domain_id: id(key.td()),
    });
    expect(await svc.get('TrustDomain', id(key.td()))).to.include({ name: project.name });
    const port = await svc.get('Port', id(key.port(vm.port)));
    expect(port).to.include({
      ip: at(5),
      mac: mac(1),
      network_id: id(key.net()),
      service_instance_id: si.id,
    });
    expect(port.backend_handle).to.deep.equal({ 'openstack/Port': vm.port });
    expect(await svc.get('Network', id(key.net()))).to.include({
      subnet: `${base}.0/24`,
      gateway: at(1),
      type: 'FLAT',
    });
  });

  it('converges with no change to the server and its port but the marks (whole objects compared), and records them', async () => {
    const before = await snapshot();
    counting = true;
    engine = await startTestEngine(db, set.steps, log);
    const [si] = (
      await svc.list('OpenStackServiceInstance', {
        filter: [{ field: 'name', value: `${run}-vm` }],
      })
    ).items;
    const [port] = (
      await svc.list('Port', { filter: [{ field: 'service_instance', value: si!.id }] })
    ).items;
    const network = await svc.get('Network', port!.network_id as number);
    for (const o of [si!, port!, network])
      await synced(svc, o.leaf_model, o.id, { log, timeoutMs: 120_000 });
    await engine.resync();
    await sleep(3000);
    for (const o of [si!, port!, network])
      await synced(svc, o.leaf_model, o.id, { log, timeoutMs: 120_000 });
    counting = false;
    const tag = (t: string) => encodeURIComponent(t);
    const owner = `syncord-owner=OpenStackServiceInstance:${String(si!.id)}`;
    expect([...new Set(writes)].sort()).to.deep.equal(
      [
        `compute PUT /v2.1/servers/${vm.server}/tags/${tag(`syncord-instance=${instance}`)}`,
        `compute PUT /v2.1/servers/${vm.server}/tags/${tag(owner)}`,
        `compute PUT /v2.1/servers/${vm.server}/metadata/syncord-owner`,
        `network PUT /v2.0/ports/${vm.port}/tags`,
        `network PUT /v2.0/networks/${net.id}/tags`,
        `network PUT /v2.0/subnets/${subnetId}/tags`,
      ].sort(),
    );
    const after = await snapshot();
    expect(rest(after.server), 'server').to.deep.equal(rest(before.server));
    expect(rest(after.port), 'port').to.deep.equal(rest(before.port));
    expect((after.server!.tags as string[]).slice().sort()).to.deep.equal(
      ['team=blue', `syncord-instance=${instance}`, owner].sort(),
    );
    expect(after.server!.metadata).to.deep.equal({
      team: 'blue',
      'syncord-owner': `OpenStackServiceInstance:${String(si!.id)}`,
    });
    expect((after.port!.tags as string[]).slice().sort()).to.deep.equal(
      [
        'team=blue',
        `syncord-instance=${instance}`,
        `syncord-owner=Port:${String(port!.id)}`,
      ].sort(),
    );
    // Recorded as the server step records what it boots.
    expect(await svc.get('OpenStackServiceInstance', si!.id)).to.include({
      server_id: vm.server,
      vm_status: 'ACTIVE',
      node_name: 'rig-compute',
    });
    expect(await svc.get('Port', port!.id)).to.include({
      port_id: vm.port,
      observed_ip: at(5),
      observed_mac: mac(1),
    });
    expect((await svc.get('OpenStackServiceInstance', si!.id)).backend_status).to.match(
      new RegExp(`server ${run}-vm ACTIVE on rig-compute`),
    );
  });

  it('deleted with deletion_policy orphan, leaves the server running on its port with its own name, unmarked', async () => {
    const [si] = (
      await svc.list('OpenStackServiceInstance', {
        filter: [{ field: 'name', value: `${run}-vm` }],
      })
    ).items;
    await svc.update('OpenStackServiceInstance', si!.id, { deletion_policy: 'orphan' });
    await synced(svc, 'OpenStackServiceInstance', si!.id, { log, timeoutMs: 60_000 });
    await svc.delete('OpenStackServiceInstance', si!.id);
    const s = await eventually(
      'the server and its port unmarked',
      async () => {
        const now = await snapshot();
        const tags = [now.server?.tags, now.port?.tags] as (string[] | undefined)[];
        return tags.every((t) => t && !t.some((x) => x.startsWith('syncord-'))) &&
          !(now.server?.metadata as Json | undefined)?.['syncord-owner']
          ? now
          : undefined;
      },
      120_000,
    );
    expect(s.server).to.include({ name: `${run}-vm`, status: 'ACTIVE' });
    expect(s.server!.tags).to.deep.equal(['team=blue']);
    expect(s.server!.metadata).to.deep.equal({ team: 'blue' });
    expect(s.port).to.include({ name: `${run}-vm-eth0`, device_id: vm.server });
    expect(s.port!.tags).to.deep.equal(['team=blue']);
    await eventually(
      'the instance gone',
      async () =>
        (await db.sql.query(`SELECT 1 FROM service_instance WHERE id = $1`, [si!.id])).rows.length
          ? undefined
          : true,
      60_000,
    );
  });
});
