// Management and deletion policies on the rig's real Keystone, Neutron and Nova (`rig/rig up
// --with openstack`): the OpenStack steps in a real engine, as a deployment of their own, on a
// scratch database, with a Cluster of kind openstack holding the rig's admin credentials.
// - observe: a Keystone project, a Neutron network, subnet and port made out of band are read
//   into the status of the models that name them, changed out of band and read again, never
//   written, and left as they are when the models go; what is not there is an error naming it.
// - create-only: a VM booted once keeps its flavor when the model's changes.
// - orphan: the VM's server, port, network and project stay when their models go, without
//   Syncord's owner tags, metadata and names, and the observer and a resync leave them alone.
// One server in all (OpenStack is slow here). Skipped, saying why, without OpenStack.
import { expect } from 'chai';
import { onRequest, type Session } from '../../backends/openstack/client.js';
import {
  Keystone,
  Neutron,
  Nova,
  type NeutronNetwork,
  type NeutronPort,
  type NeutronSubnet,
} from '../../backends/openstack/resources.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { openstackStepSet, type OpenStackSteps } from '../../steps/openstack/index.js';
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
import { synced } from '../support/synced.js';

const NOVA_VERSION = { 'openstack-api-version': 'compute 2.52' };

type Json = Record<string, unknown>;

describe('openstack: management and deletion policies on Keystone, Neutron and Nova', function () {
  this.timeout(240_000);
  const instance = uniqueName('ospol');
  const log: string[] = [];
  let os: OsEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let engine: Engine;
  let set: OpenStackSteps;
  let admin: Session;
  let neutron: Neutron;
  let nova: Nova;
  let keystone: Keystone;
  let cluster: ModelObject;
  let started = false;
  /** OpenStack objects no tag finds at the end (made out of band, or released): removed by id. */
  const leftovers = { servers: [] as string[], ports: [] as string[], networks: [] as string[] };
  const projects: string[] = [];
  /** Writes (anything but GET) sent to OpenStack while `counting`, by method and path. */
  const writes: string[] = [];
  let counting = false;
  let off: (() => void) | undefined;

  before(async function () {
    os = openstackOrSkip(this, 'openstack policies');
    this.timeout(45 * 60_000);
    db = await scratchDb();
    started = true;
    svc = db.service;
    admin = adminSession(os);
    neutron = new Neutron(admin);
    nova = new Nova(admin);
    keystone = new Keystone(admin);
    const push = (line: string) => log.push(line);
    // Polled by hand (set.observer.poll()), as in server.test.ts.
    set = openstackStepSet({ instance, pollMs: 60 * 60_000, log: push });
    engine = new Engine(db.registry, svc, set.steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      observeMs: 500,
      backoff: { baseMs: 300, maxMs: 1500 },
      log: push,
    });
    await engine.start();
    cluster = await svc.create('Cluster', clusterFields(os, uniqueName('rig-openstack')));
    off = onRequest((r) => {
      if (counting && r.method !== 'GET') writes.push(`${r.service} ${r.method} ${r.path}`);
    });
  });

  after(async function () {
    this.timeout(180_000);
    if (!started) return;
    off?.();
    await engine.stop();
    for (const id of leftovers.servers) await nova.deleteServer(id);
    await eventually(
      'the servers gone',
      async () => {
        for (const id of leftovers.servers) if (await nova.server(id)) return undefined;
        return true;
      },
      90_000,
    ).catch(() => undefined);
    for (const id of leftovers.ports) await neutron.deletePort(id);
    for (const id of leftovers.networks) await neutron.deleteNetwork(id);
    for (const id of projects) await keystone.deleteProject(id);
    await purgeOpenStack(admin, instance);
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  const osName = (model: string, id: number) => `syncord-${instance}-${model}-${String(id)}`;

  const status = (model: string, id: number, what: string, test: (o: ModelObject) => boolean) =>
    eventually(
      `${model} ${String(id)} ${what}`,
      async () => {
        const o = await svc.get(model, id, { includeDeleted: true });
        return test(o) ? o : undefined;
      },
      120_000,
    ).catch(async (err: unknown) => {
      const o = await svc.get(model, id, { includeDeleted: true }).catch(() => undefined);
      throw new Error(
        `${String(err)}; it is at ${String(o?.backend_code)}: ${String(o?.backend_status)}`,
        { cause: err },
      );
    });

  const reaped = (model: string, id: number) =>
    eventually(
      `${model} ${String(id)} reaped`,
      async () => {
        const r = await db.sql.query(
          `SELECT 1 FROM ${db.registry.get(model).table} WHERE id = $1`,
          [id],
        );
        return r.rowCount === 0 ? true : undefined;
      },
      120_000,
    );

  /** Until the engine has been idle for half a second. */
  async function settled(): Promise<void> {
    await eventually(
      'the engine idle',
      async () => {
        if (!engine.idle()) return undefined;
        await sleep(500);
        return engine.idle() || undefined;
      },
      120_000,
    );
  }

  /** The whole objects as OpenStack shows them to the admin, by kind and id. */
  async function snapshot(ids: {
    project?: string;
    network?: string;
    subnet?: string;
    port?: string;
    server?: string;
  }): Promise<Record<string, Json>> {
    const out: Record<string, Json> = {};
    if (ids.project) {
      out.project = (
        await admin.request<{ project: Json }>('identity', 'GET', `/projects/${ids.project}`)
      ).project;
    }
    if (ids.network) {
      out.network = (
        await admin.request<{ network: Json }>('network', 'GET', `/v2.0/networks/${ids.network}`)
      ).network;
    }
    if (ids.subnet) {
      out.subnet = (
        await admin.request<{ subnet: Json }>('network', 'GET', `/v2.0/subnets/${ids.subnet}`)
      ).subnet;
    }
    if (ids.port) {
      out.port = (
        await admin.request<{ port: Json }>('network', 'GET', `/v2.0/ports/${ids.port}`)
      ).port;
    }
    if (ids.server) {
      out.server = (
        await admin.request<{ server: Json }>('compute', 'GET', `/servers/${ids.server}`, {
          headers: NOVA_VERSION,
        })
      ).server;
    }
    return out;
  }

  /** A tenant on the OpenStack Cluster: a trust domain, a slice there, a network, an image. */
  async function tenant(policies: { td?: Json; network?: Json }) {
    const name = uniqueName('ospol');
    const third = 10 + Math.floor(Math.random() * 200);
    const owner = await svc.create('VNFService', { name: `${name}-svc`, vendor: 'acme' });
    const site = await svc.create('Site', { name: `${name}-site` });
    const td = await svc.create('TrustDomain', { name, owner_id: owner.id, ...policies.td });
    const slice = await svc.create('Slice', {
      name: `${name}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: owner.id,
      cluster_id: cluster.id,
    });
    const network = await svc.create('Network', {
      name: `${name}-net`,
      subnet: `10.143.${String(third)}.0/24`,
      provider: 'ovn',
      ...policies.network,
    });
    const image = await svc.create('Image', {
      name: 'cirros',
      tag: name,
      kind: 'vm',
      path: 'cirros',
    });
    const flavor = await svc.create('Flavor', { name: `${name}-tiny`, flavor: 'm1.tiny' });
    return { name, third, owner, td, slice, network, image, flavor };
  }

  /** A VM VNF of the tenant with one Port on its network. */
  async function vm(t: Awaited<ReturnType<typeof tenant>>, policies: Json) {
    return svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${t.name}-fw`,
        owner_id: t.owner.id,
        slice_id: t.slice.id,
        image_id: t.image.id,
        flavor_id: t.flavor.id,
        workload: 'vm',
        ...policies,
      });
      const port = await tx.create('Port', {
        network_id: t.network.id,
        service_instance_id: vnf.id,
        interface_name: 'eth0',
        ...policies,
      });
      return { vnf, port };
    });
  }

  it('observe: a project, network, subnet and port made out of band become status, are never written, and stay when the models go; what is missing is an error naming it', async () => {
    const observe = { management_policy: 'observe' };
    const t = await tenant({ td: observe, network: observe });
    const { vnf, port } = await vm(t, observe);
    try {
      await observed(t, vnf, port);
    } finally {
      counting = false;
      // Whatever happened: no observed model left behind, read every 500 ms (the next tests
      // wait for an idle engine). Deleting an observed model writes nothing to OpenStack.
      for (const [model, id] of [
        ['VNFServiceInstance', vnf.id],
        ['Network', t.network.id],
        ['TrustDomain', t.td.id],
      ] as const) {
        await svc.delete(model, id).catch(() => undefined);
      }
    }
  });

  async function observed(
    t: Awaited<ReturnType<typeof tenant>>,
    vnf: ModelObject,
    port: ModelObject,
  ) {
    const netName = osName('Network', t.network.id);
    const portName = osName('Port', port.id);
    const serverName = osName('VNFServiceInstance', vnf.id);
    const where = `on Cluster ${String(cluster.name)}`;

    // Nothing there yet: each model says what it misses (the server stays missing throughout).
    const missing = async (model: string, id: number, text: string) => {
      const o = await status(model, id, 'misses its object', (x) => x.backend_code === 2);
      expect(o.backend_status).to.equal(`error: observe: ${text}`);
    };
    await missing(
      'TrustDomain',
      t.td.id,
      `Keystone project ${t.name} is not there ${where} (domain Default)`,
    );
    await missing('Network', t.network.id, `Neutron network ${netName} is not there ${where}`);
    await missing('Port', port.id, `Neutron port ${portName} is not there ${where}`);
    await missing('VNFServiceInstance', vnf.id, `Nova server ${serverName} is not there ${where}`);

    // Made out of band, by hand, with the names the models give them.
    const domainId = await keystone.domainId('Default');
    const project = (
      await admin.request<{ project: { id: string } }>('identity', 'POST', '/projects', {
        body: { project: { name: t.name, domain_id: domainId, description: 'by hand' } },
      })
    ).project;
    projects.push(project.id);
    const net = await neutron.createNetwork({ name: netName, tags: [] });
    leftovers.networks.push(net.id);
    const cidr = `10.143.${String(t.third)}.0/24`;
    const subnet = await neutron.createSubnet({
      network_id: net.id,
      name: netName,
      cidr,
      gateway_ip: `10.143.${String(t.third)}.1`,
      enable_dhcp: true,
      // Neutron's own ports (OVN metadata) keep off the Port's address.
      allocation_pools: [
        { start: `10.143.${String(t.third)}.200`, end: `10.143.${String(t.third)}.210` },
      ],
      tags: [],
    });
    const np = await neutron.createPort({
      network_id: net.id,
      name: portName,
      mac_address: String(port.mac).toLowerCase(),
      fixed_ips: [{ subnet_id: subnet.id, ip_address: String(port.ip) }],
      tags: [],
    });
    leftovers.ports.push(np.id);
    const ids = { project: project.id, network: net.id, subnet: subnet.id, port: np.id };

    const td1 = await status('TrustDomain', t.td.id, 'observed', (o) => o.backend_code === 1);
    expect(td1.backend_status).to.equal(
      `observed: Keystone project ${t.name} (${project.id}) ${where}`,
    );
    // Observed once its subnet is there too (the network is made first: an observe in between
    // sees it without one).
    const seen = new RegExp(
      `^observed: Neutron network ${netName} \\(${net.id}\\) ${where}: subnet ${cidr.replace(/\./g, '\\.')}, gateway 10\\.143\\.${String(t.third)}\\.1, DHCP on, MTU \\d+, \\d+ ports?$`,
    );
    await status(
      'Network',
      t.network.id,
      'observed with its subnet',
      (o) => o.backend_code === 1 && seen.test(String(o.backend_status)),
    );
    const port1 = await status('Port', port.id, 'observed', (o) => o.backend_code === 1);
    expect(port1.backend_status).to.equal(
      `observed: Neutron port ${portName} (${np.id}) ${where}: ${String(port.ip)}, ${String(port.mac).toLowerCase()}, DOWN, unattached`,
    );
    // Its feedback, as the server step records it.
    expect([port1.port_id, port1.observed_ip]).to.deep.equal([np.id, port.ip]);
    const vnf1 = await svc.get('VNFServiceInstance', vnf.id);
    expect(vnf1.backend_code).to.equal(2);

    // Read again and again (every 500 ms), never written: the whole objects as they were.
    const before = await snapshot(ids);
    counting = true;
    await sleep(3000);
    counting = false;
    expect(writes, 'writes to OpenStack while observing').to.deep.equal([]);
    expect(await snapshot(ids)).to.deep.equal(before);

    // Changed out of band: the status follows, and says where it differs from the model.
    await admin.request('network', 'PUT', `/v2.0/subnets/${subnet.id}`, {
      body: { subnet: { gateway_ip: `10.143.${String(t.third)}.254`, enable_dhcp: false } },
    });
    const moved = `10.143.${String(t.third)}.77`;
    await neutron.updatePort(np.id, { fixed_ips: [{ subnet_id: subnet.id, ip_address: moved }] });
    const net2 = await status('Network', t.network.id, 'shows the new subnet', (o) =>
      String(o.backend_status).includes('DHCP off'),
    );
    expect(net2.backend_code).to.equal(1);
    expect(net2.backend_status).to.match(
      new RegExp(
        `gateway 10\\.143\\.${String(t.third)}\\.254, DHCP off, MTU \\d+, \\d+ ports?; differs from the model: gateway 10\\.143\\.${String(t.third)}\\.254 \\(model 10\\.143\\.${String(t.third)}\\.1\\), DHCP off \\(model on\\)$`,
      ),
    );
    const port2 = await status('Port', port.id, 'shows the new address', (o) =>
      String(o.backend_status).includes(moved),
    );
    expect(port2.backend_code).to.equal(1);
    expect(port2.backend_status).to.equal(
      `observed: Neutron port ${portName} (${np.id}) ${where}: ${moved}, ${String(port.mac).toLowerCase()}, DOWN, unattached; differs from the model: address ${moved} (model ${String(port.ip)})`,
    );
    expect(port2.observed_ip).to.equal(moved);
    const changed = await snapshot(ids);
    counting = true;
    await sleep(3000);
    counting = false;
    expect(writes, 'writes to OpenStack while observing').to.deep.equal([]);
    expect(await snapshot(ids)).to.deep.equal(changed);

    // The models go: neither delete nor release runs, and the objects stay as they are, through
    // the observer's poll and a resync too.
    counting = true;
    await svc.delete('VNFServiceInstance', vnf.id);
    await reaped('Port', port.id);
    await reaped('VNFServiceInstance', vnf.id);
    await svc.delete('Network', t.network.id);
    await reaped('Network', t.network.id);
    await svc.delete('TrustDomain', t.td.id);
    await reaped('TrustDomain', t.td.id);
    await set.observer.poll();
    await engine.resync();
    await settled();
    counting = false;
    expect(writes, 'writes to OpenStack after the models went').to.deep.equal([]);
    expect(await snapshot(ids)).to.deep.equal(changed);
  }

  describe('a VM booted by Syncord', () => {
    let t: Awaited<ReturnType<typeof tenant>>;
    let vnf: ModelObject;
    let port: ModelObject;
    const orphan = { deletion_policy: 'orphan' };

    before(async function () {
      this.timeout(240_000);
      t = await tenant({ td: orphan, network: orphan });
      const made = await vm(t, { ...orphan, management_policy: 'create-only' });
      // (Port is create-only too: one policy object for both; a Port's sync only reports.)
      vnf = await synced(svc, 'VNFServiceInstance', made.vnf.id, { timeoutMs: 200_000, log });
      port = await synced(svc, 'Port', made.port.id, { timeoutMs: 60_000, log });
      expect(vnf.vm_status).to.equal('ACTIVE');
      leftovers.servers.push(String(vnf.server_id));
      leftovers.ports.push(String(port.port_id));
      const network = await svc.get('Network', t.network.id);
      leftovers.networks.push(String(network.neutron_network_id));
    });

    it('create-only: a flavor edited after the boot is not applied, and the status says so', async () => {
      const small = await svc.create('Flavor', { name: `${t.name}-small`, flavor: 'm1.small' });
      const server = await nova.server(String(vnf.server_id));
      expect(server?.flavor?.original_name).to.equal('m1.tiny');
      await svc.update('VNFServiceInstance', vnf.id, { flavor_id: small.id });
      const o = await status('VNFServiceInstance', vnf.id, 'not applied', (x) =>
        String(x.backend_status).startsWith('create-only'),
      );
      expect([o.backend_code, o.backend_status]).to.deep.equal([
        1,
        'create-only: created at version 1; version 2 is not applied',
      ]);
      // The observer sees the flavor differ and queues it; a resync runs it: still not applied.
      await set.observer.poll();
      await engine.resync();
      await settled();
      const after = await nova.server(String(vnf.server_id));
      expect([after?.id, after?.status, after?.flavor?.original_name]).to.deep.equal([
        vnf.server_id,
        'ACTIVE',
        'm1.tiny',
      ]);
      const again = await svc.get('VNFServiceInstance', vnf.id);
      expect([again.backend_code, again.server_id, again.synced_version]).to.deep.equal([
        1,
        vnf.server_id,
        1,
      ]);
    });

    it("orphan: the models go, and the server, port, network, subnet and project stay as they were but for Syncord's tags, metadata and names", async () => {
      const network = await svc.get('Network', t.network.id);
      const [project] = await keystone.projects({ name: t.name });
      expect(project?.tags).to.include(`syncord-owner=TrustDomain:${String(t.td.id)}`);
      projects.push(project!.id);
      const [subnet] = await neutron.subnets({ network_id: String(network.neutron_network_id) });
      const ids = {
        project: project!.id,
        network: String(network.neutron_network_id),
        subnet: subnet!.id,
        port: String(port.port_id),
        server: String(vnf.server_id),
      };
      const before = await snapshot(ids);
      expect(before.server!.tags).to.include(`syncord-owner=VNFServiceInstance:${String(vnf.id)}`);

      await svc.delete('VNFServiceInstance', vnf.id);
      await reaped('Port', port.id);
      await reaped('VNFServiceInstance', vnf.id);
      await svc.delete('Network', t.network.id);
      await reaped('Network', t.network.id);
      await svc.delete('TrustDomain', t.td.id);
      await reaped('TrustDomain', t.td.id);

      const after = await snapshot(ids);
      // Syncord's marks are gone...
      const name = (model: string, id: number) => `released-${osName(model, id)}`;
      expect(after.server!.name).to.equal(name('VNFServiceInstance', vnf.id));
      expect(after.port!.name).to.equal(name('Port', port.id));
      expect(after.network!.name).to.equal(name('Network', t.network.id));
      expect(after.subnet!.name).to.equal(name('Network', t.network.id));
      for (const kind of ['server', 'port', 'network', 'subnet', 'project']) {
        expect(after[kind]!.tags, `${kind}'s tags`).to.deep.equal([]);
      }
      expect(after.server!.metadata).to.not.have.property('syncord-owner');
      // ... and nothing else changed: the server runs on its port, which keeps its address.
      const unmarked = (o: Json | undefined): Json => {
        const rest: Json = Object.fromEntries(
          Object.entries(o ?? {}).filter(
            ([k]) => !['name', 'tags', 'updated', 'updated_at', 'revision_number'].includes(k),
          ),
        );
        if (rest.metadata && typeof rest.metadata === 'object') {
          rest.metadata = Object.fromEntries(
            Object.entries(rest.metadata as Json).filter(([k]) => k !== 'syncord-owner'),
          );
        }
        return rest;
      };
      for (const kind of Object.keys(before)) {
        expect(unmarked(after[kind]), `${kind}, but for the marks`).to.deep.equal(
          unmarked(before[kind]),
        );
      }
      expect((after.port as unknown as NeutronPort).device_id).to.equal(vnf.server_id);
      expect((after.server as unknown as { status: string }).status).to.equal('ACTIVE');
      expect((after.network as unknown as NeutronNetwork).subnets).to.deep.equal([subnet!.id]);
      expect((after.subnet as unknown as NeutronSubnet).cidr).to.equal(network.subnet);

      // The observer's sweep (servers whose owner is gone) and a resync leave them alone.
      counting = true;
      await set.observer.poll();
      await engine.resync();
      await settled();
      await set.observer.poll();
      counting = false;
      expect(writes, 'writes to OpenStack after the release').to.deep.equal([]);
      expect(await snapshot(ids)).to.deep.equal(after);
      // Nothing of this deployment's is tagged any more.
      const tag = `syncord-instance=${instance}`;
      expect(await nova.servers({ tags: tag, all_tenants: true })).to.deep.equal([]);
      expect(await neutron.ports({ tags: tag })).to.deep.equal([]);
      expect(await neutron.networks({ tags: tag })).to.deep.equal([]);
      expect(await keystone.projects({ tags: tag })).to.deep.equal([]);
    });
  });
});
