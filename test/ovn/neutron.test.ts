// The OVN steps with Neutron's ML2/OVN driver on the same northbound database (the rig's OVN and
// the rig's real Neutron, `rig/rig up --with openstack`): a Network whose pods' ports sit on
// Syncord's own switch is given a Neutron network (`neutron_network_id`, as the OpenStack steps
// record it, which do not run here), and its switch ports move onto Neutron's switch
// `neutron-<id>` in one transaction, Syncord's switch goes, and no column of Neutron's rows
// changes. A Port of a VM on an OpenStack Cluster gets no switch port of Syncord's (Neutron makes
// it) and its feedback comes from Neutron's. Clearing the id moves the ports back; deleting the
// ports and the Network leaves Neutron's switch as it was. Skipped, saying why, when the rig runs
// without OpenStack.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { OvsdbClient, del, select, type Row } from '../../backends/ovn/ovsdb.js';
import { Neutron, type NeutronNetwork } from '../../backends/openstack/resources.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { ovnStepSet, type OvnSteps } from '../../steps/ovn/index.js';
import { Engine, type StepContext } from '../../synchronizer/engine.js';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { adminSession, openstackEnv } from '../support/openstack.js';
import { eventually, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { synced as syncedObject } from '../support/synced.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

const lines = (text: string) => text.split('\n').filter(Boolean);

describe("ovn: Neutron's switch as a Network's segment (the rig's OVN and Neutron)", function () {
  this.timeout(180_000);
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: OvnSteps;
  let engine: Engine;
  let instance: string;
  let neutron: Neutron;
  let nb: OvsdbClient;
  let chassis: string;
  const log: string[] = [];
  const said: { model: string; id: number; sentence: string }[] = [];
  /** What the test made outside the models, undone in reverse order even when it failed. */
  const made: (() => Promise<unknown>)[] = [];

  before(async function () {
    const osEnv = openstackEnv();
    if (!osEnv) {
      process.stderr.write(
        "[test] ovn: Neutron's switch skipped: the rig runs without OpenStack (start it with rig/rig up --with openstack)\n",
      );
      this.skip();
    }
    this.timeout(45 * 60_000);
    env = await rig();
    neutron = new Neutron(adminSession(osEnv));
    nb = await OvsdbClient.connect(env.OVN_NB_DB, { database: 'OVN_Northbound' });
    made.push(() => {
      nb.close();
      return Promise.resolve();
    });
    chassis = uniqueName('chassis');
    // A chassis as ovn-controller would register it (there is no hypervisor on the rig).
    const ip = `127.${String(1 + Math.floor(Math.random() * 250))}.${String(Math.floor(Math.random() * 250))}.${String(1 + Math.floor(Math.random() * 250))}`;
    await sbctl('chassis-add', chassis, 'geneve', ip);
    made.push(() => sbctl('--if-exists', 'chassis-del', chassis));
    db = await scratchDb();
    svc = db.service;
    made.push(() => db.drop());
    instance = uniqueName('ovn');
    made.push(() => purge());
    set = ovnStepSet({
      nbEndpoint: env.OVN_NB_DB,
      sbEndpoint: env.OVN_SB_DB,
      gatewayChassis: [chassis],
      instance,
      log: (line) => log.push(line),
    });
    // Only the OVN steps: the OpenStack steps' part (the Neutron network, the VM's Neutron port
    // and their ids on the models) is played by the test.
    // Every sentence a step returns is kept: a later sync (a retry, the observer) may replace
    // the status before the test reads it.
    const steps = set.steps.map((step) => ({
      ...step,
      sync: async (obj: ModelObject, ctx: StepContext) => {
        const sentence = await step.sync(obj, ctx);
        said.push({ model: step.observes, id: obj.id, sentence });
        return sentence;
      },
    }));
    engine = new Engine(db.registry, svc, steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      backoff: { baseMs: 300, maxMs: 2000 },
      log: (line) => log.push(line),
    });
    made.push(() => engine.stop());
    await engine.start();
  });

  after(async function () {
    this.timeout(120_000);
    for (const undo of made.splice(0).reverse()) await undo().catch(() => undefined);
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  /** Whatever of this deployment's a failed test left in the northbound database. */
  async function purge(): Promise<void> {
    for (const row of await rowsOf('Logical_Switch_Port', { 'syncord-instance': instance })) {
      await nbctl('--if-exists', 'lsp-del', uid(row)).catch(() => undefined);
    }
    const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
    await nb.transact([
      del('Logical_Switch', where),
      del('Logical_Router', where),
      del('DHCP_Options', where),
    ]);
  }

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  async function nbctl(...args: string[]): Promise<string> {
    const { stdout } = await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args]);
    return stdout.trim();
  }
  async function sbctl(...args: string[]): Promise<string> {
    const { stdout } = await exec('ovn-sbctl', [`--db=${env.OVN_SB_DB}`, ...args]);
    return stdout.trim();
  }

  async function rowsOf(table: string, keys: Record<string, string>): Promise<Row[]> {
    const [r] = await nb.transact([select(table, [['external_ids', 'includes', keys]])]);
    return r.rows;
  }
  const owned = (model: string, id: number, role: string) =>
    rowsOf('Logical_Switch_Port', {
      'syncord-instance': instance,
      'syncord-model': model,
      'syncord-id': String(id),
      'syncord-role': role,
    });

  async function switchNamed(name: string): Promise<Row | undefined> {
    const [r] = await nb.transact([select('Logical_Switch', [['name', '==', name]])]);
    return r.rows[0];
  }
  /** The columns of Neutron's switch that are Neutron's alone, as ovsdb-server returns them. */
  async function neutronColumns(name: string): Promise<string> {
    const [r] = await nb.transact([
      select('Logical_Switch', [['name', '==', name]], ['name', 'external_ids', 'other_config']),
    ]);
    expect(r.rows, `the logical switch ${name}`).to.have.length(1);
    return JSON.stringify(r.rows[0]);
  }
  /** The switch (by name) that holds a logical switch port (by uuid or name). */
  const switchOf = async (lsp: string) => nbctl('lsp-get-ls', lsp);

  const synced = (model: string, id: number, timeoutMs = 30_000) =>
    syncedObject(svc, model, id, { timeoutMs, log });

  /** Waits until an object's status (synced at its version) matches. */
  const statusOf = (model: string, id: number, pattern: RegExp, timeoutMs = 30_000) =>
    eventually(
      `${model} ${String(id)}'s status to match ${String(pattern)}`,
      async () => {
        const o = await svc.get(model, id, { includeDeleted: true });
        return o.backend_code === 1 &&
          o.synced_version === o.version &&
          pattern.test(String(o.backend_status))
          ? o
          : undefined;
      },
      timeoutMs,
    ).catch(async (err: unknown) => {
      const o = await svc.get(model, id, { includeDeleted: true });
      throw new Error(
        `${(err as Error).message}; it is at ${String(o.backend_code)}: ${String(o.backend_status)}`,
        { cause: err },
      );
    });

  /** The first sentence a step said of an object that matches, once it has said it. */
  const saying = (model: string, id: number, pattern: RegExp, timeoutMs = 30_000) =>
    eventually(
      `${model} ${String(id)}'s step to say ${String(pattern)}`,
      () =>
        Promise.resolve(
          said.find((s) => s.model === model && s.id === id && pattern.test(s.sentence))?.sentence,
        ),
      timeoutMs,
    ).catch((err: unknown) => {
      const of = said.filter((s) => s.model === model && s.id === id).slice(-5);
      throw new Error(
        `${(err as Error).message}; it said: ${of.map((s) => s.sentence).join(' | ')}`,
        { cause: err },
      );
    });

  /** Records feedback as the OpenStack steps do, and queues the object in the engine. */
  async function feedback(model: string, id: number, values: Record<string, unknown>) {
    // Through the engine's own model service, whose cache forgets the object at once.
    await engine.models.setStatus(model, id, { feedback: values });
    engine.queue.add(`${model}:${String(id)}`);
  }

  /** A row's uuid (the row must be there). */
  function uid(row: Row | undefined): string {
    const u = row?._uuid;
    if (typeof u !== 'string') throw new Error('expected a row');
    return u;
  }

  const lspName = (p: ModelObject) => `syncord-${instance}-port-${String(p.id)}`;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it("moves the pods' ports onto Neutron's switch and back, leaves VM ports to Neutron, and never writes Neutron's rows", async () => {
    const base = await baseObjects(svc, uniqueName('nt'));
    const third = 1 + (randomBytes(1).readUInt8(0) % 250);
    const prefix = `10.151.${String(third)}`;
    const net = await svc.create('Network', {
      name: uniqueName('net'),
      subnet: `${prefix}.0/24`,
      owner_id: base.slice.id,
    });
    await synced('Network', net.id);
    const own = `syncord-${net.name as string}`;

    // Two pods' ports (container VNFs on a slice without a Cluster) on Syncord's switch.
    const podPort = async (i: number) => {
      const si = await svc.create('VNFServiceInstance', {
        name: uniqueName(`pod${String(i)}`),
        owner_id: base.service.id,
        slice_id: base.slice.id,
        image_id: base.image.id,
        workload: 'container',
      });
      const p = await svc.create('Port', {
        network_id: net.id,
        service_instance_id: si.id,
        interface_name: 'net1',
      });
      return synced('Port', p.id);
    };
    const pods = [await podPort(1), await podPort(2)];
    const before = new Map<number, { uuid: string; addresses: string }>();
    for (const p of pods) {
      expect(await switchOf(lspName(p))).to.include(own);
      const [row] = await owned('Port', p.id, 'port');
      before.set(p.id, {
        uuid: uid(row),
        addresses: await nbctl('lsp-get-addresses', lspName(p)),
      });
      expect(before.get(p.id)!.addresses).to.equal(`${p.mac as string} ${p.ip as string}`);
    }
    const [stor] = await owned('Network', net.id, 'switch-router-port');
    expect(await switchOf(uid(stor))).to.include(own);
    const [dhcp] = await rowsOf('DHCP_Options', {
      'syncord-instance': instance,
      'syncord-id': String(net.id),
      'syncord-role': 'dhcp',
    });
    expect(dhcp, "the Network's DHCP options").to.not.equal(undefined);

    // A Neutron id whose switch does not exist: the Network waits, the pods stay.
    const missing = '00000000-0000-4000-8000-000000000000';
    await feedback('Network', net.id, { neutron_network_id: missing });
    await eventually('the Network to wait for the missing switch', async () => {
      const o = await svc.get('Network', net.id);
      return o.backend_code === 0 &&
        o.backend_status ===
          `waiting for Neutron's logical switch neutron-${missing} of Network ${net.name as string}`
        ? o
        : undefined;
    });
    expect(await switchOf(lspName(pods[0]!))).to.include(own);

    // The Neutron network and subnet, as the OpenStack steps make them: the Network's CIDR and
    // gateway, and a pool of one address outside IPAM's use (Neutron fills an empty pool list
    // with the whole subnet).
    const nname = uniqueName('ovn-neutron');
    const nnet: NeutronNetwork = await neutron.createNetwork({
      name: nname,
      tags: [`syncord-instance=${instance}`],
    });
    made.push(() => neutron.deleteNetwork(nnet.id));
    const subnet = await neutron.createSubnet({
      network_id: nnet.id,
      name: nname,
      cidr: `${prefix}.0/24`,
      gateway_ip: `${prefix}.1`,
      enable_dhcp: true,
      allocation_pools: [{ start: `${prefix}.254`, end: `${prefix}.254` }],
      tags: [],
    });
    const ns = `neutron-${nnet.id}`;
    await eventually(`Neutron's switch ${ns}`, () => switchNamed(ns));
    const neutronBefore = await neutronColumns(ns);

    // The segment becomes Neutron's switch: ports moved, Syncord's switch gone, in one go.
    said.length = 0;
    await feedback('Network', net.id, { neutron_network_id: nnet.id });
    const moved = await saying(
      'Network',
      net.id,
      new RegExp(`^on Neutron's switch ${escape(ns)}: .*removed logical switch ${escape(own)}`),
    );
    expect(moved).to.include(`moved 2 logical switch ports onto Neutron's switch ${ns}`);
    expect(moved).to.include(`moved its router connection`);
    expect(await switchNamed(own)).to.equal(undefined);
    expect(
      await rowsOf('Logical_Switch', { 'syncord-instance': instance, 'syncord-role': 'switch' }),
    ).to.deep.equal([]);
    for (const p of pods) {
      const [row] = await owned('Port', p.id, 'port');
      expect(uid(row), `Port ${String(p.id)}'s switch port`).to.equal(before.get(p.id)!.uuid);
      expect(await switchOf(lspName(p))).to.include(ns);
      expect(await nbctl('lsp-get-addresses', lspName(p))).to.equal(before.get(p.id)!.addresses);
      // Still Syncord's DHCP options.
      expect(await nbctl('lsp-get-dhcpv4-options', lspName(p))).to.include(uid(dhcp));
      await statusOf('Port', p.id, new RegExp(`in place on Neutron's switch ${escape(ns)} `));
    }
    expect(await switchOf(uid(stor))).to.include(ns);
    expect(await nbctl('lsp-get-options', uid(stor))).to.equal(
      `router-port=syncord-${instance}-rtos-${String(net.id)}`,
    );
    expect(await neutronColumns(ns)).to.equal(neutronBefore);
    const quiet = await synced('Network', net.id);
    expect(quiet.backend_status).to.equal(
      `logical switch ports on Neutron's switch ${ns} (${prefix}.0/24, DHCP, routed by syncord-${instance}-router)`,
    );

    // A pod's port made now goes straight onto Neutron's switch.
    const late = await podPort(3);
    expect(late.backend_status).to.equal(
      `created logical switch port ${lspName(late)} on Neutron's switch ${ns} (${late.mac as string} ${late.ip as string})`,
    );
    expect(await switchOf(lspName(late))).to.include(ns);

    // A VM's port on an OpenStack Cluster: no switch port of Syncord's.
    const cluster = await svc.create('Cluster', { name: uniqueName('os'), kind: 'openstack' });
    const vmSlice = await svc.create('Slice', {
      name: uniqueName('vm-slice'),
      site_id: base.site.id,
      trust_domain_id: base.td.id,
      service_id: base.service.id,
      cluster_id: cluster.id,
    });
    const vm = await svc.create('VNFServiceInstance', {
      name: uniqueName('vm'),
      owner_id: base.service.id,
      slice_id: vmSlice.id,
      image_id: base.image.id,
      workload: 'vm',
    });
    let vmPort = await svc.create('Port', {
      network_id: net.id,
      service_instance_id: vm.id,
      interface_name: 'eth0',
    });
    vmPort = await synced('Port', vmPort.id);
    expect(vmPort.backend_status).to.equal(
      `its logical switch port is Neutron's (port not made yet): its instance runs on OpenStack Cluster ${cluster.name as string}`,
    );
    expect(await owned('Port', vmPort.id, 'port')).to.deep.equal([]);
    expect(
      await nbctl(
        '--bare',
        '--columns=_uuid',
        'find',
        'Logical_Switch_Port',
        `name=${lspName(vmPort)}`,
      ),
    ).to.equal('');

    // Its Neutron port, as the OpenStack steps make it (IPAM's address and MAC, their name).
    const nport = await neutron.createPort({
      network_id: nnet.id,
      name: `syncord-${instance}-Port-${String(vmPort.id)}`,
      mac_address: vmPort.mac as string,
      fixed_ips: [{ subnet_id: subnet.id, ip_address: vmPort.ip as string }],
      tags: [`syncord-instance=${instance}`],
    });
    made.push(() => neutron.deletePort(nport.id));
    await eventually("the Neutron port's switch port on Neutron's switch", async () =>
      (await switchOf(nport.id).catch(() => '')).includes(ns) ? true : undefined,
    );
    expect(await nbctl('lsp-get-addresses', nport.id)).to.equal(
      `${vmPort.mac as string} ${vmPort.ip as string}`,
    );
    await feedback('Port', vmPort.id, { port_id: nport.id });
    await statusOf(
      'Port',
      vmPort.id,
      new RegExp(`^its logical switch port is Neutron's \\(port ${nport.id}\\)`),
    );
    // Its feedback from Neutron's switch port and that port's binding.
    const pb = await eventually(
      'the Port_Binding of the Neutron port',
      async () =>
        (await sbctl(
          '--bare',
          '--columns=_uuid',
          'find',
          'Port_Binding',
          `logical_port=${nport.id}`,
        )) || undefined,
    );
    await eventually('feedback: not up, no chassis', async () => {
      const o = await svc.get('Port', vmPort.id);
      return o.ovn_up === false && o.ovn_chassis === null ? o : undefined;
    });
    await sbctl('lsp-bind', nport.id, chassis);
    await sbctl('set', 'Port_Binding', pb, 'up=true');
    await eventually('feedback: up on the chassis', async () => {
      const o = await svc.get('Port', vmPort.id);
      return o.ovn_up === true && o.ovn_chassis === chassis ? o : undefined;
    });
    await sbctl('lsp-unbind', nport.id);
    await sbctl('set', 'Port_Binding', pb, 'up=false');
    await eventually('feedback: unbound', async () => {
      const o = await svc.get('Port', vmPort.id);
      return o.ovn_up === false && o.ovn_chassis === null ? o : undefined;
    });
    expect(await neutronColumns(ns)).to.equal(neutronBefore);

    // The Neutron network forgotten: a switch of Syncord's again, the ports moved back onto it.
    said.length = 0;
    await feedback('Network', net.id, { neutron_network_id: null });
    const back = await saying('Network', net.id, /^created logical switch /);
    expect(back).to.include(`moved 3 logical switch ports onto logical switch ${own}`);
    for (const p of [...pods, late]) {
      expect(await switchOf(lspName(p))).to.include(own);
      await statusOf('Port', p.id, new RegExp(`in place on ${escape(own)} `));
    }
    expect(await switchOf(uid(stor))).to.include(own);
    for (const p of pods) {
      const [row] = await owned('Port', p.id, 'port');
      expect(uid(row)).to.equal(before.get(p.id)!.uuid);
    }
    // Neutron's own port stays where Neutron put it; the VM's Port still has none of Syncord's.
    expect(await switchOf(nport.id)).to.include(ns);
    expect(await owned('Port', vmPort.id, 'port')).to.deep.equal([]);
    expect(await neutronColumns(ns)).to.equal(neutronBefore);

    // And onto Neutron's switch once more, for the teardown.
    said.length = 0;
    await feedback('Network', net.id, { neutron_network_id: nnet.id });
    await saying('Network', net.id, new RegExp(`^on Neutron's switch ${escape(ns)}: .*moved 3 `));
    for (const p of [...pods, late]) expect(await switchOf(lspName(p))).to.include(ns);

    // Deleting the ports and the Network: every row of Syncord's goes, Neutron's switch stays.
    for (const p of [...pods, late, vmPort]) await svc.delete('Port', p.id);
    await svc.delete('Network', net.id);
    await eventually('the Network reaped', async () => {
      try {
        await svc.get('Network', net.id, { includeDeleted: true });
        return undefined;
      } catch {
        return true;
      }
    });
    for (const table of [
      'Logical_Switch',
      'Logical_Switch_Port',
      'Logical_Router',
      'Logical_Router_Port',
      'DHCP_Options',
      'Gateway_Chassis',
    ]) {
      expect(await rowsOf(table, { 'syncord-instance': instance }), table).to.deep.equal([]);
    }
    expect(await neutronColumns(ns)).to.equal(neutronBefore);
    const left = lines(await nbctl('--bare', '--columns=name', 'list', 'Logical_Switch_Port'));
    expect(left).to.include(nport.id);
    expect(lines(await nbctl('lsp-list', ns)).join('\n')).to.include(nport.id);
    for (const p of [...pods, late]) expect(left).to.not.include(lspName(p));
    expect(left).to.not.include(`syncord-${instance}-stor-${String(net.id)}`);

    // Neutron's own cleanup: its port and network (and with them its switch).
    await neutron.deletePort(nport.id);
    await neutron.deleteNetwork(nnet.id);
    await eventually(`Neutron to remove ${ns}`, async () =>
      (await switchNamed(ns)) === undefined ? true : undefined,
    );
  });
});
