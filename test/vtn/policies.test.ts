// The VTN steps under the management and deletion policies, against the rig's reference VTN
// server: `observe` reads a service network, a service port and its host made by hand into the
// status and never writes them; `orphan` takes Syncord's owner annotations off and leaves the
// objects (the host stays detected, with VTN's own annotations), and neither the sweep nor a
// resync touches them after; `create-only` creates once. Every call the steps' client makes is
// recorded, so that "never writes" is checked call by call, not only by the objects' contents.
import { expect } from 'chai';
import { VtnClient } from '../../backends/vtn/client.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { portName } from '../../steps/ovn/names.js';
import {
  connectPointOf,
  vtnNetworkId,
  vtnPortId,
  vtnStepSet,
  type VtnSteps,
} from '../../steps/vtn/index.js';
import { Engine, type StepContext } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig, sleep, uniqueName } from '../support/rig.js';
import { synced as syncedObject } from '../support/synced.js';

const MARKS = ['syncord-instance', 'syncord-model', 'syncord-id'];

interface Harness {
  db: ScratchDb;
  svc: ModelService;
  set: VtnSteps;
  engine: Engine;
  instance: string;
  /** The test's own client: out-of-band edits and reads. */
  client: VtnClient;
  /** Every call of the steps' client: `putPort syncord-...-port-3`, `getNetwork ...`. */
  calls: string[];
  log: string[];
}

/** The method names of the steps' client, and which object each call names. */
const RECORDED: Record<string, (arg: unknown) => string> = {
  putNetwork: (a) => String((a as { id?: string }).id),
  putPort: (a) => String((a as { id?: string }).id),
  deleteNetwork: (a) => String(a),
  deletePort: (a) => String(a),
  hostDetected: (a) => String((a as { host_id?: { mac?: string } }).host_id?.mac),
  hostVanished: (a) => String((a as { mac?: string }).mac),
  getNetwork: (a) => String(a),
  getPort: (a) => String(a),
  listHosts: (a) => JSON.stringify(a),
};
const WRITES = [
  'putNetwork',
  'putPort',
  'deleteNetwork',
  'deletePort',
  'hostDetected',
  'hostVanished',
];

async function harness(address: string): Promise<Harness> {
  const db = await scratchDb();
  const instance = uniqueName('vtnpol');
  const log: string[] = [];
  const set = vtnStepSet({
    address,
    instance,
    sweepMs: 60 * 60_000,
    client: { deadlineMs: 3000 },
    log: (l) => log.push(l),
  });
  const calls: string[] = [];
  const stepsClient = set.runtime.client;
  for (const [method, named] of Object.entries(RECORDED)) {
    const target = stepsClient as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const original = target[method]!.bind(stepsClient);
    target[method] = (...a: unknown[]) => {
      calls.push(`${method} ${named(a[0])}`);
      return original(...a);
    };
  }
  const engine = await startTestEngine(db, set.steps, log);
  return {
    db,
    svc: db.service,
    set,
    engine,
    instance,
    client: new VtnClient(address, { deadlineMs: 3000 }),
    calls,
    log,
  };
}

/** A segment id and a /24 no other run on the shared server uses. */
function plan(i: number) {
  const seed = Math.floor(Math.random() * 60_000);
  return {
    segment_id: 200_000 + seed * 10 + i,
    subnet: `10.${String(150 + (seed % 100))}.${String((Math.floor(seed / 100) * 4 + i) % 256)}.0/24`,
  };
}

const without = (annotations: Record<string, string>, keys: string[]) =>
  Object.fromEntries(Object.entries(annotations).filter(([k]) => !keys.includes(k)));

describe('vtn: observe, orphan and create-only against the reference server', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async function () {
    this.timeout(10 * 60_000);
    const env = await rig();
    h = await harness(env.SYNCORD_VTN_ADDRESS);
  });
  after(async () => {
    if ((h as Harness | undefined) === undefined) return;
    await h.engine.stop();
    h.client.close();
    await h.db.drop();
  });

  const status = (model: string, id: number, what: string, test: (o: ModelObject) => boolean) =>
    eventually(
      `${model} ${String(id)} ${what}`,
      async () => {
        const o = await h.svc.get(model, id, { includeDeleted: true });
        return test(o) ? o : undefined;
      },
      30_000,
    ).catch(async (err: unknown) => {
      const o = await h.svc.get(model, id, { includeDeleted: true }).catch(() => undefined);
      throw new Error(
        `${(err as Error).message}; it is at ${String(o?.backend_code)}: ${String(o?.backend_status)}`,
      );
    });
  const reaped = (model: string, id: number) =>
    eventually(`${model} ${String(id)} reaped`, async () => {
      const r = await h.db.sql.query(
        `SELECT 1 FROM ${h.db.registry.get(model).table} WHERE id = $1`,
        [id],
      );
      return r.rowCount === 0 ? true : undefined;
    });
  const synced = (model: string, id: number) =>
    syncedObject(h.svc, model, id, { timeoutMs: 30_000, log: h.log });
  /** The steps' calls naming one of these objects. */
  const callsOn = (...names: string[]) =>
    h.calls.filter((c) => names.some((n) => c.endsWith(` ${n}`) || c.includes(`"${n}"`)));
  const writesOn = (...names: string[]) =>
    callsOn(...names).filter((c) => WRITES.includes(c.split(' ')[0]!));

  /** What VTN holds of a network, a port and the hosts on the port, in full. */
  const vtnState = async (netId: string, portId: string) => ({
    network: await h.client.getNetwork(netId),
    port: await h.client.getPort(portId),
    hosts: await h.client.listHosts({ portId }),
  });

  /** A pod's instance (no Kubernetes step here: the test reports its pod as the observer would). */
  async function podInstance(tag: string, running?: { node: string }) {
    const owner = await h.svc.create('Service', { name: `${h.instance}-${tag}-owner` });
    const site = await h.svc.create('Site', { name: `${h.instance}-${tag}-site` });
    const td = await h.svc.create('TrustDomain', {
      name: `${h.instance}-${tag}-td`,
      owner_id: owner.id,
    });
    const slice = await h.svc.create('Slice', {
      name: `${h.instance}-${tag}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: owner.id,
    });
    const image = await h.svc.create('Image', { name: `${h.instance}-${tag}-img` });
    const si = await h.svc.create('KubernetesServiceInstance', {
      name: `${h.instance}-${tag}-si`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
    });
    if (running) {
      await h.svc.setStatus('KubernetesServiceInstance', si.id, {
        feedback: { pod_phase: 'Running', node_name: running.node },
      });
    }
    return si;
  }

  it('observe: reads a network, port and host made by hand into the status, follows their edits, and never writes them', async () => {
    const net = await h.svc.create('Network', {
      name: `${h.instance}-seen`,
      ...plan(1),
      management_policy: 'observe',
    });
    const netId = vtnNetworkId(h.instance, net.id);
    // Not there: an error naming it, and nothing made.
    const missing = await status('Network', net.id, 'in error', (o) => o.backend_code === 2);
    expect(missing.backend_status).to.equal(`error: observe: ServiceNetwork ${netId} is not there`);
    expect(await h.client.getNetwork(netId)).to.equal(undefined);

    // Made by hand, with an annotation of its own maker and none of Syncord's.
    await h.client.putNetwork({
      id: netId,
      name: String(net.name),
      type: 'PRIVATE',
      segment_id: net.segment_id as number,
      subnet: String(net.subnet),
      service_ip: String(net.gateway),
      annotations: { 'made-by': 'operator' },
    });
    const seen = await status('Network', net.id, 'observed', (o) => o.backend_code === 1);
    expect(seen.backend_status).to.equal(
      `observed: ServiceNetwork ${netId}: PRIVATE, VNI ${String(net.segment_id)}, ${String(net.subnet)}, service IP ${String(net.gateway)}, 0 ports`,
    );

    // A port on it, observed too, whose instance runs on node-o: first missing, then made by hand
    // with its host where Syncord would have put it.
    const si = await podInstance('seen', { node: 'node-o' });
    const port = await h.svc.create('Port', {
      network_id: net.id,
      service_instance_id: si.id,
      interface_name: 'net1',
      management_policy: 'observe',
    });
    const portId = vtnPortId(h.instance, port.id);
    const mac = String(port.mac).toUpperCase();
    const gone = await status('Port', port.id, 'in error', (o) => o.backend_code === 2);
    expect(gone.backend_status).to.equal(`error: observe: ServicePort ${portId} is not there`);
    await h.client.putPort({
      id: portId,
      network_id: netId,
      name: portName(h.instance, port.id),
      mac_address: String(port.mac),
      ip_address: String(port.ip),
      annotations: { 'made-by': 'operator' },
    });
    const cp = connectPointOf('node-o', 'net1');
    const host = (portNumber: string, ips: string[]) => ({
      host_id: { mac, vlan_id: VLAN_NONE },
      description: {
        hw_address: mac,
        vlan: VLAN_NONE,
        location: { connect_point: { ...cp, port_number: portNumber }, time: '1700000000000' },
        ip_addresses: ips,
        annotations: {
          networkId: netId,
          networkType: 'PRIVATE',
          portId,
          createTime: '1700000000000',
          'made-by': 'operator',
        },
      },
      replace_ips: true,
    });
    await h.client.hostDetected(host('net1', [String(port.ip)]));
    const place = `${cp.device_id}/net1`;
    const portSeen = await status(
      'Port',
      port.id,
      'observed with its host',
      (o) => o.backend_code === 1 && String(o.backend_status).includes('; host '),
    );
    expect(portSeen.backend_status).to.equal(
      `observed: ServicePort ${portId} on ${netId}: ${String(port.ip)}, ${mac}, interface ${portName(h.instance, port.id)}; host ${mac} at ${place} (${String(port.ip)})`,
    );
    await status(
      'Network',
      net.id,
      'counting the port',
      (o) => o.backend_status === String(seen.backend_status).replace('0 ports', '1 port'),
    );

    // Edited by hand: the status follows, without any edit of the models, and says where VTN
    // now differs from them.
    const readsBefore = callsOn(netId, portId).length;
    await h.client.putNetwork({
      id: netId,
      name: String(net.name),
      type: 'FLAT',
      segment_id: net.segment_id as number,
      subnet: String(net.subnet),
      service_ip: String(net.gateway),
      annotations: { 'made-by': 'operator' },
    });
    await h.client.hostDetected(host('eth7', [String(port.ip)]));
    await status('Network', net.id, 'showing the new type', (o) =>
      String(o.backend_status).endsWith(
        `: FLAT, VNI ${String(net.segment_id)}, ${String(net.subnet)}, service IP ${String(net.gateway)}, 1 port; differs from the model: type FLAT (model PRIVATE)`,
      ),
    );
    await status('Port', port.id, 'showing the moved host', (o) =>
      String(o.backend_status).endsWith(
        `; host ${mac} at ${cp.device_id}/eth7 (${String(port.ip)}); differs from the model: host ${mac} at ${cp.device_id}/eth7 (${String(port.ip)}) (model ${mac} at ${place} (${String(port.ip)}))`,
      ),
    );
    const before = await vtnState(netId, portId);
    await sleep(2000); // a few more rounds of observing
    expect(callsOn(netId, portId).length).to.be.greaterThan(readsBefore + 4);

    // Deleting the models leaves VTN's objects as they were; the sweep leaves them too.
    await h.svc.delete('Port', port.id);
    await reaped('Port', port.id);
    await h.svc.delete('Network', net.id);
    await reaped('Network', net.id);
    await h.set.observer.sweep();
    expect(await vtnState(netId, portId)).to.deep.equal(before);
    expect(before.network?.type).to.equal('FLAT');
    expect(before.hosts).to.have.length(1);
    // Not one write of the steps named them, at any point.
    expect(writesOn(netId, portId, mac)).to.deep.equal([]);

    await h.client.hostVanished({ mac, vlan_id: VLAN_NONE });
    await h.client.deletePort(portId);
    await h.client.deleteNetwork(netId);
  });

  it('orphan: the network, port and host stay, unchanged but for the owner annotations, and nothing of Syncord touches them after', async () => {
    const net = await h.svc.create('Network', { name: `${h.instance}-kept`, ...plan(2) });
    const si = await podInstance('kept', { node: 'node-k' });
    const port = await h.svc.create('Port', {
      network_id: net.id,
      service_instance_id: si.id,
      interface_name: 'net1',
      deletion_policy: 'orphan',
    });
    const netId = vtnNetworkId(h.instance, net.id);
    const portId = vtnPortId(h.instance, port.id);
    const mac = String(port.mac).toUpperCase();
    await synced('Network', net.id);
    await synced('Port', port.id);
    const made = await eventually('the host detected', async () => {
      const s = await vtnState(netId, portId);
      return s.hosts.length === 1 ? s : undefined;
    });
    for (const o of [made.network!, made.port!, made.hosts[0]!]) {
      expect(o.annotations).to.include.keys(MARKS);
    }
    expect(made.hosts[0]!.annotations).to.include.keys(
      'networkId',
      'networkType',
      'portId',
      'createTime',
    );

    // The port goes with orphan: its row is reaped, VTN's port and host stay.
    await h.svc.delete('Port', port.id);
    await reaped('Port', port.id);
    const afterPort = await vtnState(netId, portId);
    expect(afterPort.port).to.deep.equal({
      ...made.port,
      annotations: without(made.port!.annotations, MARKS),
    });
    expect(afterPort.hosts).to.deep.equal([
      { ...made.hosts[0], annotations: without(made.hosts[0]!.annotations, MARKS) },
    ]);
    // The network is still the Network's: a port's release does not unmark it.
    expect(afterPort.network).to.deep.equal(made.network);

    // The network goes with orphan (set by an edit): the same.
    await h.svc.update('Network', net.id, { deletion_policy: 'orphan' });
    await h.svc.delete('Network', net.id);
    await reaped('Network', net.id);
    const released = await vtnState(netId, portId);
    expect(released).to.deep.equal({
      ...afterPort,
      network: { ...made.network, annotations: without(made.network!.annotations, MARKS) },
    });
    expect(released.network!.annotations).to.deep.equal({});

    // Nothing of Syncord touches them now: the sweep, a full resync, a release again.
    const writes = writesOn(netId, portId, mac).length;
    await h.set.observer.sweep();
    await h.engine.resync();
    await eventually('the resync done', () => Promise.resolve(h.engine.idle() || undefined));
    const portStep = h.set.steps.find((s) => s.name === 'vtn/port')!;
    const networkStep = h.set.steps.find((s) => s.name === 'vtn/network')!;
    const ctx = {} as StepContext;
    expect(await portStep.release!(port, ctx)).to.equal(
      `nothing of service port ${portId} carries its owner annotations`,
    );
    expect(await networkStep.release!(net, ctx)).to.equal(
      `service network ${netId} carries no owner annotations of this network`,
    );
    expect(await vtnState(netId, portId)).to.deep.equal(released);
    expect(writesOn(netId, portId, mac)).to.have.length(writes);
    expect(
      h.log.filter((l) => /stray/.test(l) && (l.includes(portId) || l.includes(netId))),
    ).to.deep.equal([]);

    // Gone already: success too.
    await h.client.hostVanished({ mac, vlan_id: VLAN_NONE });
    await h.client.deletePort(portId);
    await h.client.deleteNetwork(netId);
    expect(await portStep.release!(port, ctx)).to.equal(
      `nothing of service port ${portId} carries its owner annotations`,
    );
    expect(await networkStep.release!(net, ctx)).to.equal(`no service network ${netId} to release`);
  });

  it("a host with a port's MAC that is not Syncord's (an orphaned port's) is neither vanished by the port's sync nor by its delete", async () => {
    const net = await h.svc.create('Network', { name: `${h.instance}-mac`, ...plan(3) });
    // Not running: a sync of the port removes any host of its own.
    const si = await podInstance('mac');
    const port = await h.svc.create('Port', { network_id: net.id, service_instance_id: si.id });
    await synced('Port', port.id);
    const netId = vtnNetworkId(h.instance, net.id);
    const mac = String(port.mac).toUpperCase();
    // Someone else's port and host with that MAC (as an orphaned port's would be, were its MAC
    // ever given again), and no mark of Syncord's.
    const otherId = `${netId}-by-hand`;
    await h.client.putPort({ id: otherId, network_id: netId, annotations: { 'made-by': 'x' } });
    await h.client.hostDetected({
      host_id: { mac, vlan_id: VLAN_NONE },
      description: {
        hw_address: mac,
        vlan: VLAN_NONE,
        location: { connect_point: { device_id: 'of:00000000000000aa', port_number: '3' } },
        ip_addresses: [String(port.ip)],
        annotations: {
          networkId: netId,
          networkType: 'PRIVATE',
          portId: otherId,
          createTime: '1700000000000',
        },
      },
      replace_ips: true,
    });
    const foreign = await h.client.listHosts({ portId: otherId });
    expect(foreign).to.have.length(1);
    // The steps' replica has it (else a sync would not even look).
    await eventually('the host in the watch replica', () =>
      Promise.resolve(h.set.observer.hosts.has(`${mac}/${String(VLAN_NONE)}`) || undefined),
    );
    await h.svc.update('Port', port.id, { interface_name: 'eth3' }); // a sync of the port
    await synced('Port', port.id);
    await h.svc.delete('Port', port.id);
    await reaped('Port', port.id);
    expect(await h.client.listHosts({ portId: otherId })).to.deep.equal(foreign);
    expect(writesOn(mac)).to.deep.equal([]);

    await h.client.hostVanished({ mac, vlan_id: VLAN_NONE });
    await h.client.deletePort(otherId);
    await h.svc.delete('Network', net.id);
    await reaped('Network', net.id);
  });

  it('create-only: creates the service network once, and neither applies an edit nor repairs a change by hand', async () => {
    const net = await h.svc.create('Network', {
      name: `${h.instance}-once`,
      ...plan(4),
      management_policy: 'create-only',
    });
    const netId = vtnNetworkId(h.instance, net.id);
    await status(
      'Network',
      net.id,
      'created',
      (o) => o.backend_code === 1 && o.synced_version === 1,
    );
    const made = await h.client.getNetwork(netId);
    expect(made).to.deep.include({ type: 'PRIVATE', subnet: net.subnet });
    expect(made!.annotations).to.include.keys(MARKS);

    await h.svc.update('Network', net.id, { type: 'FLAT' });
    const kept = await status('Network', net.id, 'saying the edit is not applied', (o) =>
      /not applied/.test(String(o.backend_status)),
    );
    expect(kept).to.include({
      backend_code: 1,
      synced_version: 1,
      backend_status: 'create-only: created at version 1; version 2 is not applied',
    });
    await sleep(1000);
    expect(await h.client.getNetwork(netId)).to.deep.equal(made);

    // Changed by hand (its owner is queued by the watch) and resynced: left as it is.
    await h.client.putNetwork({ ...made!, type: 'PUBLIC' });
    await h.engine.resync();
    await eventually('the resync done', () => Promise.resolve(h.engine.idle() || undefined));
    await sleep(1000);
    expect((await h.client.getNetwork(netId))?.type).to.equal('PUBLIC');
    expect(writesOn(netId).filter((c) => c.startsWith('putNetwork'))).to.have.length(1);

    // deletion_policy delete: torn down like any object.
    await h.svc.delete('Network', net.id);
    await reaped('Network', net.id);
    expect(await h.client.getNetwork(netId)).to.equal(undefined);
  });
});
