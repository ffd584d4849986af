// The VTN steps end to end: models in a scratch database, the engine running the VTN steps, and
// the reference VTN server as a process of its own (the rig's, or a private one that is killed
// and restarted). What reached VTN is read back with our client and with grpcurl. The steps run
// as a deployment of their own (annotation syncord-instance), so other runs on the same server
// are neither seen nor touched; a run removes what it made.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VtnClient } from '../../backends/vtn/client.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { portName } from '../../steps/ovn/names.js';
import { vtnNetworkId, vtnPortId, vtnStepSet, type VtnSteps } from '../../steps/vtn/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { synced as syncedObject } from '../support/synced.js';
import { eventually, rig, uniqueName } from '../support/rig.js';
import { spawnVtn, type VtnProcess } from '../support/vtn.js';

const exec = promisify(execFile);

interface Harness {
  db: ScratchDb;
  svc: ModelService;
  set: VtnSteps;
  engine: Engine;
  instance: string;
  client: VtnClient;
  log: string[];
}

async function harness(address: string, sweepMs = 60 * 60_000): Promise<Harness> {
  const db = await scratchDb();
  const instance = uniqueName('vtn');
  const log: string[] = [];
  const set = vtnStepSet({
    address,
    instance,
    sweepMs,
    client: { deadlineMs: 3000 },
    log: (l) => log.push(l),
  });
  const engine = new Engine(db.registry, db.service, set.steps, {
    url: db.url,
    workers: 4,
    resyncMs: 60 * 60_000,
    backoff: { baseMs: 300, maxMs: 2000 },
    log: (l) => log.push(l),
  });
  await engine.start();
  return {
    db,
    svc: db.service,
    set,
    engine,
    instance,
    client: new VtnClient(address, { deadlineMs: 3000 }),
    log,
  };
}

async function closeHarness(h: Harness): Promise<void> {
  await h.engine.stop();
  h.client.close();
  await h.db.drop();
}

const synced = (h: Harness, model: string, id: number, timeoutMs = 20_000) =>
  syncedObject(h.svc, model, id, { timeoutMs, log: h.log });

/** A segment id and a /24 no other run on the shared server uses. */
function plan(i: number) {
  const seed = Math.floor(Math.random() * 60_000);
  return {
    segment_id: 100_000 + seed * 10 + i,
    subnet: `10.${String(100 + (seed % 100))}.${String((Math.floor(seed / 100) * 4 + i) % 256)}.0/24`,
  };
}

async function world(h: Harness, tag: string) {
  const site = await h.svc.create('Site', { name: `${h.instance}-${tag}-site` });
  const owner = await h.svc.create('Service', { name: `${h.instance}-${tag}-owner` });
  const td = await h.svc.create('TrustDomain', {
    name: `${h.instance}-${tag}-td`,
    owner_id: owner.id,
  });
  const sliceOf = async (name: string, service: ModelObject) =>
    h.svc.create('Slice', {
      name: `${h.instance}-${tag}-${name}`,
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: service.id,
    });
  return { owner, sliceOf };
}

describe('vtn: the steps against the reference server', function () {
  this.timeout(90_000);
  let h: Harness;

  before(async function () {
    this.timeout(10 * 60_000);
    const env = await rig();
    h = await harness(env.SYNCORD_VTN_ADDRESS);
  });
  after(async () => {
    // Unset when before() failed.
    if ((h as Harness | undefined) !== undefined) await closeHarness(h);
  });

  it('pushes networks (type, VNI, subnet, gateway, providers) and ports, with the right fields', async () => {
    const { owner, sliceOf } = await world(h, 'graph');
    const provider = await h.svc.create('Service', { name: `${h.instance}-provider` });
    const subscriber = await h.svc.create('Service', { name: `${h.instance}-subscriber` });
    await h.svc.create('ServiceDependency', {
      provider_service_id: provider.id,
      subscriber_service_id: subscriber.id,
      connect_method: 'private',
    });
    const pSlice = await sliceOf('p', provider);
    const sSlice = await sliceOf('s', subscriber);
    const pNet = await h.svc.create('Network', {
      name: `${h.instance}-pnet`,
      ...plan(1),
      owner_id: pSlice.id,
    });
    const sNet = await h.svc.create('Network', {
      name: `${h.instance}-snet`,
      ...plan(2),
      type: 'PUBLIC',
      owner_id: sSlice.id,
    });
    const si = await h.svc.create('ServiceInstance', {
      name: `${h.instance}-si`,
      owner_id: owner.id,
    });
    const port = await h.svc.create('Port', { network_id: sNet.id, service_instance_id: si.id });
    await synced(h, 'Network', pNet.id);
    const s = await synced(h, 'Network', sNet.id);
    expect(s.backend_status).to.match(/^service network syncord-.*-net-\d+ \(PUBLIC, VNI \d+/);
    await synced(h, 'Port', port.id);

    const nets = await h.client.listNetworks({ 'syncord-instance': h.instance });
    const got = nets.find((n) => n.id === vtnNetworkId(h.instance, sNet.id))!;
    expect(got).to.deep.include({
      name: sNet.name,
      type: 'PUBLIC',
      segment_id: String(sNet.segment_id),
      subnet: sNet.subnet,
      service_ip: sNet.gateway,
    });
    expect(got.providers).to.deep.equal([
      { id: vtnNetworkId(h.instance, pNet.id), type: 'UNIDIRECTIONAL' },
    ]);
    const ports = await h.client.listPorts({ 'syncord-instance': h.instance });
    expect(ports).to.have.length(1);
    expect(ports[0]).to.deep.include({
      id: vtnPortId(h.instance, port.id),
      network_id: vtnNetworkId(h.instance, sNet.id),
      name: portName(h.instance, port.id),
      mac_address: String(port.mac).toUpperCase(),
      ip_address: port.ip,
    });
    // An edit reaches VTN.
    await h.svc.update('Network', sNet.id, { type: 'PRIVATE' });
    await eventually('the type changed in VTN', async () => {
      const n = (await h.client.listNetworks({ 'syncord-instance': h.instance })).find(
        (x) => x.id === vtnNetworkId(h.instance, sNet.id),
      );
      return n?.type === 'PRIVATE' ? n : undefined;
    });
    // A network without a segment id stays out of VTN, and says so.
    const plain = await h.svc.create('Network', {
      name: `${h.instance}-plain`,
      subnet: '10.250.1.0/24',
    });
    const p = await synced(h, 'Network', plain.id);
    expect(p.backend_status).to.match(/not in VTN: the network has no segment_id/);
  });

  it("detects a running instance's interfaces as VTN hosts, and lets them vanish", async () => {
    const { owner, sliceOf } = await world(h, 'hosts');
    const slice = await sliceOf('pods', owner);
    const image = await h.svc.create('Image', { name: `${h.instance}-img` });
    const net = await h.svc.create('Network', { name: `${h.instance}-hnet`, ...plan(3) });
    // A pod's instance (no Kubernetes step here: the test reports its pod as the observer would).
    const si = await h.svc.create('KubernetesServiceInstance', {
      name: `${h.instance}-hsi`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
    });
    const port = await h.svc.create('Port', {
      network_id: net.id,
      service_instance_id: si.id,
      interface_name: 'net1',
    });
    await synced(h, 'Port', port.id);
    const mac = String(port.mac).toUpperCase();
    const hostsOfPort = async () =>
      (await h.client.listHosts({ portId: vtnPortId(h.instance, port.id) })).filter(
        (x) => x.host_id?.mac === mac,
      );
    expect(await hostsOfPort()).to.deep.equal([]);
    // The pod observer reports the pod Running on a node (feedback on the instance).
    await h.svc.setStatus('ServiceInstance', si.id, {
      feedback: { pod_phase: 'Running', node_name: 'node-7' },
    });
    const [host] = await eventually('a host in VTN', async () => {
      const found = await hostsOfPort();
      return found.length ? found : undefined;
    });
    expect(host!.host_id).to.deep.equal({ mac, vlan_id: VLAN_NONE });
    expect(host!.ip_addresses).to.deep.equal([port.ip]);
    expect(host!.provider_id).to.deep.include({ scheme: 'host', id: 'org.opencord.vtn' });
    expect(host!.annotations).to.include({
      networkId: vtnNetworkId(h.instance, net.id),
      networkType: 'PRIVATE',
      portId: vtnPortId(h.instance, port.id),
    });
    expect(host!.annotations.createTime).to.match(/^\d{13}$/);
    expect(host!.location?.connect_point?.port_number).to.equal('net1');
    // The pod stops: the host vanishes.
    await h.svc.setStatus('ServiceInstance', si.id, { feedback: { pod_phase: 'Failed' } });
    await eventually('the host gone', async () =>
      (await hostsOfPort()).length ? undefined : true,
    );
    // The port goes: VTN's port too.
    await h.svc.delete('Port', port.id);
    await eventually('the VTN port gone', async () => {
      const ports = await h.client.listPorts({ 'syncord-instance': h.instance });
      return ports.some((p) => p.id === vtnPortId(h.instance, port.id)) ? undefined : true;
    });
  });

  it('repairs what is changed or removed in VTN behind its back, and sweeps strays', async () => {
    const owner = await h.svc.create('Service', { name: `${h.instance}-drift` });
    const net = await h.svc.create('Network', { name: `${h.instance}-dnet`, ...plan(4) });
    const si = await h.svc.create('ServiceInstance', {
      name: `${h.instance}-dsi`,
      owner_id: owner.id,
    });
    const port = await h.svc.create('Port', { network_id: net.id, service_instance_id: si.id });
    await synced(h, 'Port', port.id);
    const id = vtnPortId(h.instance, port.id);
    await h.client.deletePort(id);
    await eventually('the port back in VTN', async () =>
      (await h.client.listPorts({ 'syncord-instance': h.instance })).some((p) => p.id === id)
        ? true
        : undefined,
    );
    // A stray with this deployment's marks and no model; and one of nobody's.
    const netId = vtnNetworkId(h.instance, net.id);
    const marks = {
      'syncord-instance': h.instance,
      'syncord-model': 'Port',
      'syncord-id': '999999',
    };
    await h.client.putPort({ id: `${netId}-stray`, network_id: netId, annotations: marks });
    await h.client.putPort({
      id: `${netId}-foreign`,
      network_id: netId,
      annotations: { owner: 'x' },
    });
    await h.set.observer.sweep();
    const left = (await h.client.listPorts({}, netId)).map((p) => p.id);
    expect(left).to.include(`${netId}-foreign`).and.include(id);
    expect(left).to.not.include(`${netId}-stray`);
    await h.client.deletePort(`${netId}-foreign`);
  });

  it('a resync of synced objects makes no call to VTN (the watch replica answers)', async () => {
    const { owner, sliceOf } = await world(h, 'quiet');
    const slice = await sliceOf('qpods', owner);
    const image = await h.svc.create('Image', { name: `${h.instance}-qimg` });
    const net = await h.svc.create('Network', { name: `${h.instance}-qnet`, ...plan(6) });
    // Its pod Running (as the pod observer reports it): every port is a VTN host too.
    const si = await h.svc.create('KubernetesServiceInstance', {
      name: `${h.instance}-qsi`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
    });
    await h.svc.setStatus('KubernetesServiceInstance', si.id, {
      feedback: { pod_phase: 'Running', node_name: 'node-q' },
    });
    const ports = await h.svc.createMany(
      'Port',
      Array.from({ length: 20 }, () => ({ network_id: net.id, service_instance_id: si.id })),
    );
    for (const p of ports) await synced(h, 'Port', p.id);
    await eventually('every port a host', async () => {
      const hosts = await h.client.listHosts({ 'syncord-instance': h.instance });
      const macs = new Set(hosts.map((x) => x.host_id?.mac));
      return ports.every((p) => macs.has(String(p.mac).toUpperCase())) || undefined;
    });
    await eventually('the engine idle', () => Promise.resolve(h.engine.idle() || undefined));
    // Count every call the steps' client makes from here.
    const client = h.set.runtime.client;
    const calls: string[] = [];
    for (const m of [
      'putNetwork',
      'putPort',
      'deleteNetwork',
      'deletePort',
      'hostDetected',
      'hostVanished',
    ] as const) {
      const original = client[m].bind(client) as (...a: unknown[]) => Promise<unknown>;
      (client as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        calls.push(m);
        return original(...a);
      };
    }
    const queued = await h.engine.resync();
    expect(queued).to.be.at.least(21);
    await eventually('the resync done', () => Promise.resolve(h.engine.idle() || undefined));
    expect(calls).to.deep.equal([]);
    // And an edit makes exactly the call it needs.
    await h.svc.update('Network', net.id, { type: 'FLAT' });
    await eventually('the edit pushed', () =>
      Promise.resolve(calls.includes('putNetwork') || undefined),
    );
    expect(calls.filter((c) => c === 'putNetwork')).to.have.length(1);
  });

  it('answers grpcurl with what the steps pushed', async () => {
    const env = await rig();
    const { stdout } = await exec(env.SYNCORD_GRPCURL, [
      '-plaintext',
      '-d',
      JSON.stringify({ annotations: { 'syncord-instance': h.instance } }),
      env.SYNCORD_VTN_ADDRESS,
      'cordvtn.VtnService/ListNetworks',
    ]);
    const listed = JSON.parse(stdout) as { networks: { id: string; type: string }[] };
    expect(listed.networks.length).to.be.at.least(2);
    expect(listed.networks.every((n) => n.id.startsWith('syncord-'))).to.equal(true);
  });

  it('removes everything it made when the models go', async () => {
    for (const model of ['Port', 'Network']) {
      const page = await h.svc.list(model, { pageSize: 1000 });
      for (const o of page.items) await h.svc.delete(model, o.id).catch(() => undefined);
    }
    await eventually('nothing of this deployment in VTN', async () => {
      const mine = { 'syncord-instance': h.instance };
      const [n, p, x] = await Promise.all([
        h.client.listNetworks(mine),
        h.client.listPorts(mine),
        h.client.listHosts(mine),
      ]);
      return n.length + p.length + x.length === 0 ? true : undefined;
    });
  });
});

describe('vtn: the steps when VTN goes away and comes back empty', function () {
  this.timeout(90_000);
  let vtn: VtnProcess | undefined;
  let h: Harness | undefined;

  after(async () => {
    if (h) await closeHarness(h);
    await vtn?.stop();
  });

  it('records VTN unreachable with a retry time, then fills a restarted, empty VTN again', async () => {
    vtn = await spawnVtn({}); // in memory: a restart loses everything
    const address = vtn.address;
    h = await harness(address);
    const owner = await h.svc.create('Service', { name: `${h.instance}-o` });
    const net = await h.svc.create('Network', { name: `${h.instance}-net`, ...plan(5) });
    const si = await h.svc.create('ServiceInstance', {
      name: `${h.instance}-si`,
      owner_id: owner.id,
    });
    const ports = await h.svc.createMany(
      'Port',
      [0, 1, 2].map(() => ({ network_id: net.id, service_instance_id: si.id })),
    );
    for (const p of ports) await synced(h, 'Port', p.id);

    await vtn.stop('SIGKILL');
    // An edit while VTN is down: an error naming VTN, with a retry time.
    await h.svc.update('Network', net.id, { type: 'FLAT' });
    const failed = await eventually('the network in error', async () => {
      const o = await h!.svc.get('Network', net.id);
      return o.backend_code === 2 ? o : undefined;
    });
    expect(failed.backend_status).to.match(
      new RegExp(`VTN at ${address} (unreachable|did not answer)`),
    );
    expect(Date.parse(String(failed.next_attempt_at))).to.be.greaterThan(Date.now() - 1000);

    vtn = await spawnVtn({ listen: address });
    expect(vtn.banner).to.match(/0 networks, 0 ports/);
    await eventually(
      'VTN refilled',
      async () => {
        const mine = { 'syncord-instance': h!.instance };
        const [n, p] = await Promise.all([h!.client.listNetworks(mine), h!.client.listPorts(mine)]);
        return n.length === 1 && n[0]!.type === 'FLAT' && p.length === 3 ? true : undefined;
      },
      60_000,
    );
    await synced(h, 'Network', net.id, 30_000);
  });
});
