// Adoption from ONOS-VTN against the rig's reference VTN server, in process (discoverAll and
// adopt with the VTN source, then the real VTN steps in an Engine): a service network, its ports
// and their hosts made out of band with the client are listed with the models they would become
// (and why others cannot be adopted as they are), adopted in one transaction (an address IPAM
// gives another port refuses everything, naming the holder; an object adopted already is
// refused), and then converge with no change to the objects but Syncord's annotations. Deleting
// the adopted models tears the objects down by their handles' ids.
import { expect } from 'chai';
import { VtnClient } from '../../backends/vtn/client.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import { readHistory } from '../../models/history.js';
import { ownedObjects } from '../../steps/owned.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import {
  connectPointOf,
  marks,
  vtnNetworkId,
  vtnStepSet,
  type VtnSteps,
} from '../../steps/vtn/index.js';
import {
  adopt,
  discoverAll,
  type AdoptCandidate,
  type AdoptFilter,
} from '../../synchronizer/adopt.js';
import { Engine, type StepContext } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig, sleep, uniqueName } from '../support/rig.js';
import { synced } from '../support/synced.js';
import { recordVtnWrites } from '../support/vtn.js';

const MARKS = ['syncord-instance', 'syncord-model', 'syncord-id'];

describe('vtn: adoption of service networks and service ports made out of band', function () {
  this.timeout(180_000);
  let db: ScratchDb;
  let svc: ModelService;
  let set: VtnSteps;
  let engine: Engine | undefined;
  let instance: string;
  /** The test's own client: the out-of-band objects, and reads. */
  let client: VtnClient;
  const log: string[] = [];
  /** Every write of the steps' client (and the source's): `putPort <id>`. */
  const writes: string[] = [];
  const run = uniqueName('va');
  const seed = Math.floor(Math.random() * 60_000);
  const vni = (i: number) => 300_000 + seed * 10 + i;
  const net = (i: number) =>
    `10.${String(150 + (seed % 100))}.${String((Math.floor(seed / 100) * 4 + i) % 256)}`;
  const base = net(0);
  const at = (host: number) => `${base}.${String(host)}`;
  const mac = (n: number) =>
    `0A:00:${(seed >> 8).toString(16).padStart(2, '0').toUpperCase()}:${(seed & 255).toString(16).padStart(2, '0').toUpperCase()}:00:${n.toString(16).padStart(2, '0').toUpperCase()}`;
  const ids = {
    net: `${run}-net`,
    providers: `${run}-net-prov`,
    annotated: `${run}-net-ann`,
    /** The held Network's service network: Syncord's id for it (set once it is made). */
    held: '',
    p1: `${run}-port-1`,
    p2: `${run}-port-2`,
    tagged: `${run}-port-tagged`,
    misplaced: `${run}-port-misplaced`,
    onProviders: `${run}-port-prov`,
    intruder: `${run}-port-intruder`,
  };
  const iface = (port: string) => `${port}-if`;
  const created = '1700000000000';
  let si: ModelObject;
  let idle: ModelObject;
  let heldNet: ModelObject;
  let holder: ModelObject;

  /** The whole objects the test made: the network, the two ports and their hosts. */
  const state = async () => ({
    network: await client.getNetwork(ids.net),
    p1: await client.getPort(ids.p1),
    p2: await client.getPort(ids.p2),
    hosts: (await client.listHosts({ networkId: ids.net }))
      .filter((h) => h.host_id?.mac !== mac(10))
      .sort((a, b) => String(a.host_id?.mac).localeCompare(String(b.host_id?.mac))),
  });
  const adoptedRows = async () =>
    (
      await db.sql.query<{ model: string; n: string }>(
        `SELECT 'Network' AS model, count(*) AS n FROM network WHERE backend_handle IS NOT NULL
         UNION ALL SELECT 'Port', count(*) FROM port WHERE backend_handle IS NOT NULL`,
      )
    ).rows.map((r) => `${r.model} ${r.n}`);
  const discover = async (filter: AdoptFilter) => {
    const { candidates, failures } = await discoverAll(svc, [set.source], filter);
    expect(failures).to.deep.equal([]);
    // Only this run's objects (the server is shared).
    return candidates.filter((c) => c.name.startsWith(run));
  };
  const byKey = (cs: AdoptCandidate[], kind: string, id: string) => {
    const c = cs.find((x) => x.key === `vtn/${kind}/${id}`);
    expect(c, `vtn/${kind}/${id}`).to.not.equal(undefined);
    return c!;
  };
  const hostOf = (id: string, m: string, ip: string) => ({
    host_id: { mac: m, vlan_id: VLAN_NONE },
    description: {
      hw_address: m,
      vlan: VLAN_NONE,
      location: { connect_point: connectPointOf('node-a', iface(id)), time: created },
      ip_addresses: [ip],
      annotations: { networkId: ids.net, networkType: 'PRIVATE', portId: id, createTime: created },
    },
    replace_ips: true,
  });

  before(async function () {
    this.timeout(10 * 60_000);
    const env = await rig();
    db = await scratchDb();
    svc = db.service;
    instance = uniqueName('vtnadopt');
    client = new VtnClient(env.SYNCORD_VTN_ADDRESS, { deadlineMs: 3000 });
    set = vtnStepSet({
      address: env.SYNCORD_VTN_ADDRESS,
      instance,
      sweepMs: 60 * 60_000,
      client: { deadlineMs: 3000 },
      log: (l) => log.push(l),
    });
    recordVtnWrites(set.runtime.client, writes);
    // The instance the ports are adopted for, running on node-a (as its pod's feedback says).
    const owner = await svc.create('Service', { name: `${run}-svc` });
    const site = await svc.create('Site', { name: `${run}-site` });
    const td = await svc.create('TrustDomain', { name: `${run}-td`, owner_id: owner.id });
    const slice = await svc.create('Slice', {
      name: `${run}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: owner.id,
    });
    const image = await svc.create('Image', { name: `${run}-img` });
    si = await svc.create('KubernetesServiceInstance', {
      name: `${run}-si`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
    });
    await svc.setStatus('KubernetesServiceInstance', si.id, {
      feedback: { pod_phase: 'Running', node_name: 'node-a' },
    });
    idle = await svc.create('ServiceInstance', { name: `${run}-idle`, owner_id: owner.id });

    // What an operator made by hand, shaped as Syncord would have made it: a network, two ports
    // with their hosts where Syncord would detect them for an instance on node-a.
    await client.putNetwork({
      id: ids.net,
      name: `${run}-a`,
      type: 'PRIVATE',
      segment_id: vni(0),
      subnet: `${base}.0/24`,
      service_ip: at(1),
    });
    for (const [id, n] of [
      [ids.p1, 5],
      [ids.p2, 6],
    ] as const) {
      await client.putPort({
        id,
        network_id: ids.net,
        name: iface(id),
        mac_address: mac(n),
        ip_address: at(n),
      });
      await client.hostDetected(hostOf(id, mac(n), at(n)));
    }
    // Not adoptable as they are: a port whose host is not where Syncord would detect it, a
    // tagged port, a network with providers (and a port on it), a
    // network with annotations of its own.
    await client.putPort({
      id: ids.misplaced,
      network_id: ids.net,
      name: iface(ids.misplaced),
      mac_address: mac(10),
      ip_address: at(10),
    });
    const away = hostOf(ids.misplaced, mac(10), at(10));
    away.description.location.connect_point = {
      device_id: 'of:00000000000000aa',
      port_number: '3',
    };
    await client.hostDetected(away);
    await client.putPort({
      id: ids.tagged,
      network_id: ids.net,
      name: iface(ids.tagged),
      mac_address: mac(7),
      ip_address: at(7),
      vlan_id: 100,
    });
    await client.putNetwork({
      id: ids.providers,
      name: `${run}-b`,
      type: 'PRIVATE',
      segment_id: vni(1),
      subnet: `${net(1)}.0/24`,
      service_ip: `${net(1)}.1`,
      providers: [{ id: ids.net, type: 'UNIDIRECTIONAL' }],
    });
    await client.putPort({
      id: ids.onProviders,
      network_id: ids.providers,
      name: iface(ids.onProviders),
      mac_address: mac(8),
      ip_address: `${net(1)}.8`,
    });
    await client.putNetwork({
      id: ids.annotated,
      name: `${run}-c`,
      type: 'FLAT',
      segment_id: vni(2),
      subnet: `${net(2)}.0/24`,
      service_ip: `${net(2)}.1`,
      annotations: { 'made-by': 'operator' },
    });
    // A Network of Syncord's (its service network, marked as this deployment's),
    // an address IPAM holds on it, and a port made by hand there with that address.
    heldNet = await svc.create('Network', {
      name: `${run}-held`,
      subnet: `${net(3)}.0/24`,
      segment_id: vni(3),
    });
    ids.held = vtnNetworkId(instance, heldNet.id);
    holder = await svc.create('Port', {
      name: `${run}-holder`,
      network_id: heldNet.id,
      service_instance_id: si.id,
      ip: `${net(3)}.9`,
    });
    await client.putNetwork({
      id: ids.held,
      name: `${run}-held`,
      type: 'PRIVATE',
      segment_id: vni(3),
      subnet: `${net(3)}.0/24`,
      service_ip: `${net(3)}.1`,
      annotations: marks(instance, { model: 'Network', id: heldNet.id }),
    });
    await client.putPort({
      id: ids.intruder,
      network_id: ids.held,
      name: iface(ids.intruder),
      mac_address: mac(9),
      ip_address: `${net(3)}.9`,
    });
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
    for (const m of [5, 6, 7, 8, 9, 10]) {
      await client.hostVanished({ mac: mac(m), vlan_id: VLAN_NONE }).catch(() => undefined);
    }
    for (const id of [ids.p1, ids.p2, ids.tagged, ids.misplaced, ids.onProviders, ids.intruder]) {
      await client.deletePort(id).catch(() => undefined);
    }
    for (const id of [ids.providers, ids.net, ids.annotated, ids.held]) {
      await client.deleteNetwork(id).catch(() => undefined);
    }
    client.close();
    await set.source.close?.();
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  it('lists the network and its ports with the models they would become, why others cannot be adopted, and writes nothing', async () => {
    const before = await state();
    const cs = await discover({ instance: String(si.name) });
    const network = byKey(cs, 'ServiceNetwork', ids.net);
    expect(network).to.deep.equal({
      key: `vtn/ServiceNetwork/${ids.net}`,
      backend: 'vtn',
      kind: 'ServiceNetwork',
      name: ids.net,
      detail: `PRIVATE, VNI ${String(vni(0))}, ${base}.0/24, service IP ${at(1)}, 4 ports`,
      model: 'Network',
      values: {
        name: `${run}-a`,
        type: 'PRIVATE',
        segment_id: vni(0),
        subnet: `${base}.0/24`,
        gateway: at(1),
      },
      handle: { 'vtn/ServiceNetwork': ids.net },
      identity: `Network subnet ${base}.0/24`,
    });
    expect(byKey(cs, 'ServicePort', ids.p1)).to.deep.equal({
      key: `vtn/ServicePort/${ids.p1}`,
      backend: 'vtn',
      kind: 'ServicePort',
      name: ids.p1,
      detail: `${at(5)}, ${mac(5)}, interface ${iface(ids.p1)} on ${ids.net}; host on node-a`,
      model: 'Port',
      values: {
        name: iface(ids.p1),
        mac: mac(5).toLowerCase(),
        ip: at(5),
        service_instance_id: si.id,
      },
      refs: { network_id: `vtn/ServiceNetwork/${ids.net}` },
      handle: { 'vtn/ServicePort': ids.p1, 'ovn/Logical_Switch_Port': iface(ids.p1) },
      identity: `Port mac ${mac(5).toLowerCase()}`,
      guessed: ['service_instance_id', 'name'],
    });
    // On a Network of Syncord's: its id, not a reference to a candidate.
    const intruder = byKey(cs, 'ServicePort', ids.intruder);
    expect(intruder.values).to.deep.include({ network_id: heldNet.id });
    expect(intruder.refs).to.equal(undefined);
    expect(intruder.problem).to.equal(undefined);
    // Syncord's own network is not listed.
    expect(cs.map((c) => c.key)).to.not.include(`vtn/ServiceNetwork/${ids.held}`);
    const problems = Object.fromEntries(
      cs.filter((c) => c.problem).map((c) => [c.name, c.problem]),
    );
    expect(problems).to.deep.equal({
      [ids.tagged]: "it is tagged (VLAN 100): Syncord's ports are untagged",
      [ids.misplaced]: `its host ${mac(10)} is at of:00000000000000aa/3, not where Syncord detects it for ${run}-si on node-a (${connectPointOf('node-a', iface(ids.misplaced)).device_id}/${iface(ids.misplaced)})`,
      [ids.providers]: `it has providers (${ids.net}): Syncord derives them from ServiceDependency and would remove them`,
      [ids.onProviders]: `its network ${ids.providers} cannot be adopted: it has providers (${ids.net}): Syncord derives them from ServiceDependency and would remove them`,
      [ids.annotated]:
        "it has annotations of its own (made-by): Syncord's annotations would replace them",
    });
    // Without an instance, a port says what it lacks; with one that is not running, a port whose
    // host is detected cannot be adopted (Syncord would leave the host unmarked).
    const alone = await discover({});
    expect(byKey(alone, 'ServicePort', ids.p1).problem).to.match(/^its instance is unknown/);
    expect(byKey(alone, 'ServicePort', ids.p1).values).to.not.have.property('service_instance_id');
    const stopped = await discover({ instance: String(idle.id) });
    expect(byKey(stopped, 'ServicePort', ids.p1).problem).to.equal(
      `VTN has a host ${mac(5)} for it, but ServiceInstance ${run}-idle is not running (Syncord detects hosts of running instances only)`,
    );
    expect(byKey(stopped, 'ServicePort', ids.intruder).problem).to.equal(undefined);
    // Kinds: only networks.
    const nets = await discover({ kinds: ['ServiceNetwork'] });
    expect([...new Set(nets.map((c) => c.kind))]).to.deep.equal(['ServiceNetwork']);
    // Nothing written anywhere.
    expect(await state()).to.deep.equal(before);
    expect(await client.getPort(ids.intruder)).to.deep.include({ annotations: {} });
    expect(writes).to.deep.equal([]);
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
  });

  it('refuses a port whose address IPAM gives another port, naming the holder; nothing adopted', async () => {
    const cs = await discover({ instance: String(si.name) });
    const chosen = [ids.net, ids.p1, ids.p2].map((id) =>
      cs.find((c) => c.name === id),
    ) as AdoptCandidate[];
    const intruder = byKey(cs, 'ServicePort', ids.intruder);
    // Last, after the others are made in the same transaction: they go too.
    const err = await adopt(svc, [...chosen, intruder]).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.equal(
      `vtn/ServicePort/${ids.intruder}: as Port: ip: ${net(3)}.9 is held by Port ${String(holder.id)} (${run}-holder of KubernetesServiceInstance ${String(si.id)}) on Network ${run}-held`,
    );
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
    expect(await client.getPort(ids.intruder)).to.deep.include({ annotations: {} });
    // A candidate with a problem is refused, naming it.
    const tagged = byKey(cs, 'ServicePort', ids.tagged);
    const refused = await adopt(svc, [tagged]).catch((e: unknown) => e as Error);
    expect((refused as Error).message).to.equal(
      `vtn/ServicePort/${ids.tagged}: it is tagged (VLAN 100): Syncord's ports are untagged`,
    );
    expect(await adoptedRows()).to.deep.equal(['Network 0', 'Port 0']);
    // The step's adopt() refuses an object another owner marked, naming it.
    const networkStep = set.steps.find((x) => x.name === 'vtn/network')!;
    const other = {
      ...heldNet,
      id: heldNet.id + 1000,
      backend_handle: { 'vtn/ServiceNetwork': ids.held },
    };
    const taken = await networkStep.adopt!(other, {} as StepContext).catch(
      (e: unknown) => e as Error,
    );
    expect((taken as Error).message).to.equal(
      `ServiceNetwork ${ids.held} belongs to Network ${String(heldNet.id)}`,
    );
    expect(writes).to.deep.equal([]);
  });

  it('adopts the network and its ports in one transaction, addresses as static allocations; again, refused', async () => {
    const cs = await discover({ instance: String(si.name) });
    const chosen = [ids.p1, ids.p2, ids.net].map((id) =>
      cs.find((c) => c.name === id),
    ) as AdoptCandidate[];
    const done = await adopt(svc, chosen);
    expect(done.map((d) => [d.key, d.model, d.name])).to.deep.equal([
      [`vtn/ServiceNetwork/${ids.net}`, 'Network', `${run}-a`],
      [`vtn/ServicePort/${ids.p1}`, 'Port', iface(ids.p1)],
      [`vtn/ServicePort/${ids.p2}`, 'Port', iface(ids.p2)],
    ]);
    expect(await adoptedRows()).to.deep.equal(['Network 1', 'Port 2']);
    const network = await svc.get('Network', done[0]!.id);
    expect(network).to.include({
      name: `${run}-a`,
      type: 'PRIVATE',
      segment_id: vni(0),
      subnet: `${base}.0/24`,
      gateway: at(1),
    });
    expect(network.backend_handle).to.deep.equal({ 'vtn/ServiceNetwork': ids.net });
    const ports = await Promise.all(done.slice(1).map((d) => svc.get('Port', d.id)));
    expect(
      ports.map((p) => [
        p.name,
        p.network_id,
        p.service_instance_id,
        p.mac,
        p.ip,
        p.backend_handle,
      ]),
    ).to.deep.equal([
      [
        iface(ids.p1),
        network.id,
        si.id,
        mac(5).toLowerCase(),
        at(5),
        { 'vtn/ServicePort': ids.p1, 'ovn/Logical_Switch_Port': iface(ids.p1) },
      ],
      [
        iface(ids.p2),
        network.id,
        si.id,
        mac(6).toLowerCase(),
        at(6),
        { 'vtn/ServicePort': ids.p2, 'ovn/Logical_Switch_Port': iface(ids.p2) },
      ],
    ]);
    const held = await db.sql.query(
      `SELECT host(address) AS address, static FROM syncord_ipam_address WHERE network_id = $1 ORDER BY address`,
      [network.id],
    );
    expect(held.rows).to.deep.equal([
      { address: at(5), static: true },
      { address: at(6), static: true },
    ]);
    // Adopted already: listed so, and refused.
    const again = await discover({ instance: String(si.name) });
    expect(byKey(again, 'ServiceNetwork', ids.net).problem).to.equal(
      `adopted already as Network ${String(network.id)}`,
    );
    expect(byKey(again, 'ServicePort', ids.p1).problem).to.equal(
      `adopted already as Port ${String(ports[0]!.id)}`,
    );
    // Asked for anyway (as the listing was before): refused in the transaction, naming it.
    const refused = await adopt(svc, [
      byKey(cs, 'ServiceNetwork', ids.net),
      byKey(cs, 'ServicePort', ids.p1),
    ]).catch((e: unknown) => e as Error);
    expect((refused as Error).message).to.equal(
      `vtn/ServiceNetwork/${ids.net}: adopted already as Network ${String(network.id)}`,
    );
    expect(await adoptedRows()).to.deep.equal(['Network 1', 'Port 2']);
    expect(writes).to.deep.equal([]);
  });

  it('converges with no change to the objects but Syncord annotations', async () => {
    // The held network's models and port are the previous test's: gone before the engine runs
    // (the engine removes the held network by its handle).
    await client.deletePort(ids.intruder);
    await svc.delete('Port', holder.id);
    await svc.delete('Network', heldNet.id);
    const before = await state();
    expect(before.hosts).to.have.length(2);
    engine = await startTestEngine(db, set.steps, log);
    const [network] = (
      await svc.list('Network', { filter: [{ field: 'name', value: `${run}-a` }] })
    ).items;
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    expect(ports).to.have.length(2);
    for (const o of [network!, ...ports]) await synced(svc, o.leaf_model, o.id, { log });
    // Their first sync put the annotations on, and the sync found the rest in place.
    const history = await readHistory(db.sql, db.registry, 'Network', network!.id);
    expect(history.map((h) => h.backend_status)).to.include(
      `adopted: marked ServiceNetwork ${ids.net}; service network ${ids.net} (PRIVATE, VNI ${String(vni(0))}, ${base}.0/24)`,
    );
    const p1 = ports.find((p) => p.name === iface(ids.p1))!;
    const portHistory = await readHistory(db.sql, db.registry, 'Port', p1.id);
    expect(portHistory.map((h) => h.backend_status)).to.include(
      `adopted: marked ServicePort ${ids.p1}; marked host ${mac(5)}; service port ${ids.p1} on ${ids.net}; host ${mac(5)} on node-a`,
    );
    await engine.resync();
    await eventually('idle', () => Promise.resolve(engine!.idle() || undefined));
    await sleep(500);
    const after = await state();
    const mark = (model: string, id: number) => marks(instance, { model, id });
    const [h5, h6] = before.hosts;
    const portOf = (m: string) => ports.find((p) => String(p.mac).toUpperCase() === m)!.id;
    expect(after).to.deep.equal({
      network: {
        ...before.network,
        annotations: { ...before.network!.annotations, ...mark('Network', network!.id) },
      },
      p1: { ...before.p1, annotations: mark('Port', p1.id) },
      p2: {
        ...before.p2,
        annotations: mark('Port', ports.find((p) => p.name === iface(ids.p2))!.id),
      },
      hosts: [h5, h6].map((h) => ({
        ...h,
        annotations: { ...h!.annotations, ...mark('Port', portOf(String(h!.host_id?.mac))) },
      })),
    });
    for (const o of [after.network!, after.p1!, after.p2!, ...after.hosts]) {
      expect(o.annotations).to.include.keys(MARKS);
    }
    // The only writes on them: the annotations, once each.
    const names = [ids.net, ids.p1, ids.p2, mac(5), mac(6)];
    expect(writes.filter((w) => names.some((n) => w.endsWith(` ${n}`))).sort()).to.deep.equal(
      [
        `putNetwork ${ids.net}`,
        `putPort ${ids.p1}`,
        `putPort ${ids.p2}`,
        `hostDetected ${mac(5)}`,
        `hostDetected ${mac(6)}`,
      ].sort(),
    );
    expect(log.filter((l) => /stray/.test(l) && names.some((n) => l.includes(n)))).to.deep.equal(
      [],
    );
    // adopt() again: nothing to do.
    const ctx = { models: svc } as unknown as StepContext;
    const [networkStep, portStep] = ['vtn/network', 'vtn/port'].map((n) =>
      set.steps.find((x) => x.name === n)!,
    );
    expect(await networkStep!.adopt!(network!, ctx)).to.equal(
      `ServiceNetwork ${ids.net} marked already`,
    );
    expect(await portStep!.adopt!(p1, ctx)).to.equal(
      `ServicePort ${ids.p1} marked already; host ${mac(5)} marked already`,
    );
    expect(await state()).to.deep.equal(after);
    // What the GUI shows as theirs: the objects by their handles' ids.
    const owned = async (o: ModelObject) =>
      (await ownedObjects(svc, o, { backends: new Set(['vtn']), instance })).map(
        (x) => `${x.kind} ${x.name}`,
      );
    expect(await owned(network!)).to.deep.equal([`VtnNetwork ${ids.net}`]);
    expect(await owned(p1)).to.deep.equal([`VtnPort ${ids.p1}`, `VtnHost ${mac(5)}`]);
    // The derived ids were never made.
    expect(await client.getNetwork(vtnNetworkId(instance, network!.id))).to.equal(undefined);
  });

  it('deleting the adopted models tears down the objects by their handles', async () => {
    const [network] = (
      await svc.list('Network', { filter: [{ field: 'name', value: `${run}-a` }] })
    ).items;
    const ports = (await svc.list('Port', { filter: [{ field: 'network', value: network!.id }] }))
      .items;
    const reaped = (model: string, id: number) =>
      eventually(`${model} ${String(id)} reaped`, async () => {
        const r = await db.sql.query(
          `SELECT 1 FROM ${db.registry.get(model).table} WHERE id = $1`,
          [id],
        );
        return r.rowCount === 0 ? true : undefined;
      });
    for (const p of ports) {
      await svc.delete('Port', p.id);
      await reaped('Port', p.id);
    }
    expect(await client.getPort(ids.p1)).to.equal(undefined);
    expect(await client.getPort(ids.p2)).to.equal(undefined);
    expect(
      (await client.listHosts({ networkId: ids.net })).map((h) => h.host_id?.mac),
    ).to.deep.equal([mac(10)]);
    // The tagged port (not adopted) is on it still, and the network with providers names it: VTN
    // refuses the network's removal until they go.
    await client.deletePort(ids.tagged);
    await client.hostVanished({ mac: mac(10), vlan_id: VLAN_NONE });
    await client.deletePort(ids.misplaced);
    await client.deletePort(ids.onProviders);
    await client.deleteNetwork(ids.providers);
    await svc.delete('Network', network!.id);
    await reaped('Network', network!.id).catch(async (err: unknown) => {
      const o = await svc.get('Network', network!.id, { includeDeleted: true });
      throw new Error(`${(err as Error).message}: ${String(o.backend_status)}`);
    });
    expect(await client.getNetwork(ids.net)).to.equal(undefined);
    const names = [ids.net, ids.p1, ids.p2];
    expect(
      writes.filter((w) => w.startsWith('delete') && names.some((n) => w.endsWith(` ${n}`))),
    ).to.have.members([`deleteNetwork ${ids.net}`, `deletePort ${ids.p1}`, `deletePort ${ids.p2}`]);
    expect(await client.getNetwork(ids.held)).to.equal(undefined);
  });
});
