// VM VNFs on the rig's real OpenStack (`rig/rig up --with openstack`): the engine runs the OVN,
// Kubernetes and OpenStack steps as a deployment of its own against a scratch database, with a
// Cluster of kind openstack holding the rig's admin credentials. A VNF with workload vm on a slice
// of that Cluster becomes a Nova server (fake driver: it goes ACTIVE) in the trust domain's own
// Keystone project, on Neutron ports made first with the Ports' IPAM addresses and MACs, on the
// Neutron networks that stand for the Networks. Checked: what Nova, Neutron and OVN then hold; a
// periodic resync of an unchanged VM sending OpenStack no request (counted at the client); a bad
// flavor's error status; a server deleted out of band booted again; a deleted instance taking
// its server and ports and freeing its addresses. Skipped, saying why, without OpenStack.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { onRequest, type Session } from '../../backends/openstack/client.js';
import { Keystone, Neutron, Nova, type NeutronPort } from '../../backends/openstack/resources.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { kubernetesStepSet } from '../../steps/kubernetes/index.js';
import { openstackStepSet, type OpenStackSteps } from '../../steps/openstack/index.js';
import { ovnStepSet } from '../../steps/ovn/index.js';
import { ownedObjects } from '../../steps/owned.js';
import { vtnStepSet } from '../../steps/vtn/index.js';
import { connectPointOf, vtnPortId } from '../../steps/vtn/names.js';
import { VtnClient } from '../../backends/vtn/client.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { vnfTenant } from '../support/kube-steps.js';
import {
  adminSession,
  clusterFields,
  openstackOrSkip,
  purgeOpenStack,
  type OsEnv,
} from '../support/openstack.js';
import { eventually, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { synced } from '../support/synced.js';

const exec = promisify(execFile);

describe('openstack: VM VNFs as Nova servers on Neutron ports with Syncord addresses', function () {
  this.timeout(240_000);
  const instance = uniqueName('ostest');
  const log: string[] = [];
  let os: OsEnv;
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let engine: Engine;
  let set: OpenStackSteps;
  let admin: Session;
  let nova: Nova;
  let neutron: Neutron;
  let cluster: ModelObject;
  let started = false;
  let segments = 0;
  let vtn: VtnClient;

  before(async function () {
    os = openstackOrSkip(this, 'openstack');
    this.timeout(45 * 60_000);
    env = await rig();
    db = await scratchDb();
    started = true;
    svc = db.service;
    admin = adminSession(os);
    nova = new Nova(admin);
    neutron = new Neutron(admin);
    const push = (line: string) => log.push(line);
    // Polled by hand (set.observer.poll()): the timer would not fire within the suite, but the
    // view of the Cluster that the polls keep is trusted as the observer's.
    set = openstackStepSet({ instance, pollMs: 60 * 60_000, log: push });
    const steps = [
      ...ovnStepSet({
        nbEndpoint: env.OVN_NB_DB,
        sbEndpoint: env.OVN_SB_DB,
        instance,
        log: push,
      }).steps,
      ...kubernetesStepSet({ instance, sweepMs: 0, log: push }).steps,
      ...set.steps,
      // VTN last, as in `syncord serve`: a VM's interfaces are VTN hosts once it is ACTIVE.
      ...vtnStepSet({ address: env.SYNCORD_VTN_ADDRESS, instance, log: push }).steps,
    ];
    vtn = new VtnClient(env.SYNCORD_VTN_ADDRESS, { deadlineMs: 3000 });
    engine = new Engine(db.registry, svc, steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      backoff: { baseMs: 500, maxMs: 2000 },
      log: push,
    });
    await engine.start();
    cluster = await svc.create('Cluster', clusterFields(os, uniqueName('rig-openstack')));
  });

  after(async function () {
    this.timeout(120_000);
    if (!started) return;
    await engine.stop();
    // Whatever a failed test left: this run's servers, ports, networks and projects.
    await purgeOpenStack(admin, instance);
    await db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  /** A tenant whose slice runs on the OpenStack Cluster, two networks, a VM VNF with a port on each. */
  async function vmWorld(options: { flavor?: string } = {}) {
    const name = uniqueName('osvm');
    const third = 10 + Math.floor(Math.random() * 200);
    const t = await vnfTenant(svc, name, [
      { suffix: 'inside', subnet: `10.140.${String(third)}.0/24`, provider: 'ovn' },
      { suffix: 'outside', subnet: `10.141.${String(third)}.0/24`, provider: 'ovn' },
    ]);
    await svc.update('Slice', t.slice.id, { cluster_id: cluster.id });
    // VTN knows networks with a segment id (VNIs are global in VTN: unique to this run).
    for (const net of t.networks) {
      await svc.update('Network', net.id, {
        segment_id: 3_000_000 + (process.pid % 100_000) * 20 + segments++,
      });
    }
    const image = await svc.create('Image', {
      name: 'cirros',
      tag: name,
      kind: 'vm',
      path: 'cirros',
    });
    const flavor = await svc.create('Flavor', {
      name: `${name}-flavor`,
      flavor: options.flavor ?? 'm1.tiny',
    });
    const { vnf, ports } = await svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${name}-fw`,
        owner_id: t.owner.id,
        slice_id: t.slice.id,
        image_id: image.id,
        flavor_id: flavor.id,
        workload: 'vm',
        config: { hostname: `${name}-fw` },
      });
      const ports = [];
      for (const [i, net] of t.networks.entries()) {
        ports.push(
          await tx.create('Port', {
            network_id: net.id,
            service_instance_id: vnf.id,
            interface_name: `eth${String(i)}`,
          }),
        );
      }
      return { vnf, ports };
    });
    return { ...t, image, flavor, vnf, ports };
  }

  const serverName = (si: ModelObject) => `syncord-${instance}-VNFServiceInstance-${String(si.id)}`;
  const portName = (p: ModelObject) => `syncord-${instance}-Port-${String(p.id)}`;

  async function serversOf(si: ModelObject) {
    return (await nova.servers({ name: `^${serverName(si)}$`, all_tenants: true })).filter(
      (s) => s.name === serverName(si),
    );
  }

  async function neutronPortsOf(ports: ModelObject[]): Promise<NeutronPort[]> {
    const out: NeutronPort[] = [];
    for (const p of ports) out.push(...(await neutron.ports({ name: portName(p) })));
    return out;
  }

  async function nbctl(args: string[]): Promise<string> {
    const { stdout } = await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args]);
    return stdout.trim();
  }

  it("boots the server in the trust domain's project on Neutron ports with the Ports' addresses and MACs", async () => {
    const w = await vmWorld();
    const vnf = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    expect(vnf.vm_status).to.equal('ACTIVE');
    expect(vnf.node_name).to.equal('rig-compute');
    expect(vnf.backend_status).to.match(/ACTIVE on rig-compute/);

    const [server, ...more] = await serversOf(vnf);
    expect(more, 'one server').to.have.length(0);
    // The GUI's list of what the instance owns names that server (and no pod, no KubeVirt VM).
    const backends = new Set(['ovn', 'kubernetes', 'openstack', 'vtn']);
    const owned = await ownedObjects(svc, vnf, { backends, instance });
    expect(owned.map((o) => [o.backend, o.kind, o.name])).to.deep.equal([
      ['openstack', 'Server', server?.name],
    ]);
    expect(owned[0]!.detail).to.equal(`ACTIVE on rig-compute, ${String(server?.id)}`);
    expect(server?.id).to.equal(vnf.server_id);
    expect(server?.status).to.equal('ACTIVE');
    expect(server?.tags).to.include.members([
      `syncord-instance=${instance}`,
      `syncord-owner=VNFServiceInstance:${String(vnf.id)}`,
    ]);
    // The trust domain's own project, made by Syncord.
    const projects = await new Keystone(admin).projects({ name: w.td.name as string });
    expect(projects).to.have.length(1);
    expect((server as unknown as { tenant_id?: string }).tenant_id).to.equal(projects[0]!.id);

    // Each Port: a Neutron port with its IPAM address and MAC, attached to the server, on the
    // Neutron network recorded on its Network, whose subnet is the Network's.
    for (const [i, port] of w.ports.entries()) {
      const p = await svc.get('Port', port.id);
      const [np, ...dup] = await neutron.ports({ name: portName(p) });
      expect(dup, `one Neutron port for Port ${String(p.id)}`).to.have.length(0);
      expect(np?.mac_address).to.equal(String(p.mac).toLowerCase());
      expect(np?.fixed_ips.map((f) => f.ip_address)).to.deep.equal([p.ip]);
      expect(np?.device_id).to.equal(server?.id);
      expect(p.port_id).to.equal(np?.id);
      expect(p.observed_ip).to.equal(p.ip);
      const net = await svc.get('Network', w.networks[i]!.id);
      expect(np?.network_id).to.equal(net.neutron_network_id);
      const subnets = await neutron.subnets({ network_id: String(net.neutron_network_id) });
      expect(subnets.map((s) => s.cidr)).to.deep.equal([net.subnet]);
      // ML2/OVN put it on the network's switch in the northbound database.
      // ("unknown" too: Neutron's mark of a port without port security, as the pods' are not
      // filtered by security groups either.)
      const lsp = await nbctl(['lsp-get-addresses', String(np?.id)]);
      expect(lsp.split('\n')).to.include(`${String(p.mac).toLowerCase()} ${String(p.ip)}`);
      const ls = await nbctl(['lsp-get-ls', String(np?.id)]);
      expect(ls).to.include(`neutron-${String(net.neutron_network_id)}`);
      const ownedByPort = await ownedObjects(svc, p, { backends, instance });
      expect(ownedByPort.map((o) => [o.backend, o.kind, o.name])).to.deep.include.members([
        ['ovn', 'Logical_Switch_Port', np?.id],
        ['openstack', 'Port', np?.name],
      ]);
      const ownedByNet = await ownedObjects(svc, net, { backends, instance });
      expect(ownedByNet.map((o) => [o.backend, o.kind, o.name])).to.deep.include.members([
        ['ovn', 'Logical_Switch', `neutron-${String(net.neutron_network_id)}`],
        [
          'openstack',
          'Network',
          (
            await neutron.networks({
              tags: `syncord-owner=Network:${String(net.id)}`,
              name: `syncord-${instance}-Network-${String(net.id)}`,
            })
          )[0]?.name,
        ],
      ]);
      // A VTN host for the VM's interface: on the compute host, at the tap device Nova names
      // after the Neutron port.
      const mac = String(p.mac).toUpperCase();
      const [host, ...others] = await eventually('a VTN host for the VM interface', async () => {
        const found = (await vtn.listHosts({ portId: vtnPortId(instance, p.id) })).filter(
          (x) => x.host_id?.mac === mac,
        );
        return found.length ? found : undefined;
      });
      expect(others).to.have.length(0);
      expect(host!.ip_addresses).to.deep.equal([p.ip]);
      expect(host!.location?.connect_point).to.deep.include(
        connectPointOf('rig-compute', `tap${String(np?.id).slice(0, 11)}`),
      );
    }
  });

  /** Every OpenStack request sent while `run` runs, by service, method and path (ids as {id}). */
  async function requestsDuring(run: () => Promise<void>): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const off = onRequest((r) => {
      const path = r.path.replace(
        /[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}|[0-9a-f]{32}/g,
        '{id}',
      );
      const key = `${r.service} ${r.method} ${path}`;
      counts[key] = (counts[key] ?? 0) + 1;
    });
    try {
      await run();
    } finally {
      off();
    }
    return counts;
  }

  /** Until the engine has been idle for half a second. */
  async function settled(): Promise<void> {
    await eventually(
      'the engine idle',
      async () => {
        if (!engine.idle()) return undefined;
        await new Promise((r) => setTimeout(r, 500));
        return engine.idle() || undefined;
      },
      120_000,
    );
  }

  /** One periodic resync (every object's steps again) until the engine is idle. */
  async function resync(): Promise<void> {
    await engine.resync();
    await settled();
  }

  it('a periodic resync of an unchanged VM sends OpenStack nothing; what changes out of band is still repaired', async () => {
    const w = await vmWorld();
    const vnf = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    for (const p of w.ports) await synced(svc, 'Port', p.id, { timeoutMs: 60_000, log });
    for (const n of w.networks) await synced(svc, 'Network', n.id, { timeoutMs: 60_000, log });
    await settled();
    // The observer's view of the Cluster, as its timer would take it.
    await set.observer.poll();
    const sent = await requestsDuring(resync);
    log.push(`OpenStack requests of one resync: ${JSON.stringify(sent)}`);
    expect(sent, 'the OpenStack requests of one resync').to.deep.equal({});
    const after = await svc.get('VNFServiceInstance', vnf.id);
    expect([after.backend_code, after.server_id, after.backend_status]).to.deep.equal([
      1,
      vnf.server_id,
      vnf.backend_status,
    ]);
    // The observer's next poll costs its own listing, one request of each kind per Cluster
    // whatever the number of VMs, and the reconcile of anything it finds different (the
    // Kubernetes VM step clears vm_status, which is the OpenStack step's here, on every sync:
    // written back from the view) none.
    const polled = await requestsDuring(async () => {
      await set.observer.poll();
      await settled();
    });
    expect(polled, 'the OpenStack requests of a poll').to.deep.equal({
      'compute GET /v2.1/servers/detail': 1,
      'compute GET /v2.1/flavors/detail': 1,
      'network GET /v2.0/ports': 1,
      'network GET /v2.0/networks': 1,
      'network GET /v2.0/subnets': 1,
      'image GET /v2/images': 1,
    });
    const polledVnf = await svc.get('VNFServiceInstance', vnf.id);
    expect([polledVnf.backend_code, polledVnf.vm_status, polledVnf.node_name]).to.deep.equal([
      1,
      'ACTIVE',
      'rig-compute',
    ]);

    // A port detached out of band: the observer's next poll notices, the sync attaches it again.
    const port = await svc.get('Port', w.ports[0]!.id);
    await admin.request(
      'compute',
      'DELETE',
      `/servers/${String(vnf.server_id)}/os-interface/${String(port.port_id)}`,
    );
    await eventually(
      'Nova detached it',
      async () =>
        (await neutron.port(String(port.port_id)))?.device_id ||
        (await nova.interfaces(String(vnf.server_id))).some((i) => i.port_id === port.port_id)
          ? undefined
          : true,
      60_000,
    );
    await set.observer.poll();
    await eventually(
      'the port attached again',
      async () =>
        (await nova.interfaces(String(vnf.server_id))).some((i) => i.port_id === port.port_id) ||
        undefined,
      120_000,
    );

    // The server deleted out of band: a resync before the observer's next poll may trust the
    // view it has; that poll sees the server gone, and the sync boots it again.
    await nova.deleteServer(String(vnf.server_id));
    await eventually(
      'Nova deleted it',
      async () => ((await nova.server(String(vnf.server_id))) ? undefined : true),
      60_000,
    );
    await resync();
    await set.observer.poll();
    const again = await eventually(
      'a new server ACTIVE',
      async () => {
        const o = await svc.get('VNFServiceInstance', w.vnf.id);
        return o.server_id !== vnf.server_id && o.vm_status === 'ACTIVE' && o.backend_code === 1
          ? o
          : undefined;
      },
      180_000,
    );
    for (const p of await neutronPortsOf(w.ports)) expect(p.device_id).to.equal(again.server_id);
    // What the sync saw as it booted it is the view now: the next resync sends nothing either.
    await settled();
    const next = await requestsDuring(resync);
    expect(next, 'the OpenStack requests of the next resync').to.deep.equal({});
  });

  it('a hybrid chain: a pod and a VM on the same two networks share one switch per network and one allocator', async () => {
    const w = await vmWorld();
    const image = await svc.create('Image', { name: 'acme/dpi', tag: w.td.name });
    const { pod, podPorts } = await svc.transaction(async (tx) => {
      const pod = await tx.create('VNFServiceInstance', {
        name: `${w.td.name as string}-dpi`,
        owner_id: w.owner.id,
        slice_id: w.slice.id,
        image_id: image.id,
        workload: 'container',
      });
      const podPorts = [];
      for (const [i, net] of w.networks.entries()) {
        podPorts.push(
          await tx.create('Port', {
            network_id: net.id,
            service_instance_id: pod.id,
            interface_name: `net${String(i + 1)}`,
          }),
        );
      }
      return { pod, podPorts };
    });
    await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    const podSi = await synced(svc, 'VNFServiceInstance', pod.id, { timeoutMs: 120_000, log });
    expect(podSi.pod_phase).to.equal('Running');
    for (const p of [...w.ports, ...podPorts])
      await synced(svc, 'Port', p.id, { timeoutMs: 60_000, log });

    for (const [i, net0] of w.networks.entries()) {
      const net = await svc.get('Network', net0.id);
      const neutronSwitch = `neutron-${String(net.neutron_network_id)}`;
      const vmPort = await svc.get('Port', w.ports[i]!.id);
      const podPort = await svc.get('Port', podPorts[i]!.id);
      // One allocator: two addresses of the Network's subnet, not the same.
      expect(vmPort.ip).to.not.equal(podPort.ip);
      // The VM's port is Neutron's LSP, the pod's Syncord's, on the same switch.
      expect(await nbctl(['lsp-get-ls', String(vmPort.port_id)])).to.include(neutronSwitch);
      const lsps = (
        await nbctl([
          '--format=csv',
          '--no-headings',
          '--columns=name,addresses',
          'find',
          'Logical_Switch_Port',
          `external_ids:syncord-id=${String(podPort.id)}`,
          `external_ids:syncord-model=Port`,
          `external_ids:syncord-instance=${instance}`,
        ])
      )
        .split('\n')
        .filter(Boolean);
      expect(lsps, `Syncord's LSP of Port ${String(podPort.id)}`).to.have.length(1);
      const lspName = lsps[0]!.split(',')[0]!.replace(/"/g, '');
      expect(await nbctl(['lsp-get-ls', lspName])).to.include(neutronSwitch);
      expect(lsps[0]).to.include(`${String(podPort.mac).toLowerCase()} ${String(podPort.ip)}`);
      // Syncord made no switch of its own for the Network.
      const own = await nbctl([
        '--bare',
        '--columns=name',
        'find',
        'Logical_Switch',
        `external_ids:syncord-id=${String(net.id)}`,
        'external_ids:syncord-model=Network',
        `external_ids:syncord-instance=${instance}`,
      ]);
      expect(own, `Syncord's own switch of Network ${String(net.name)}`).to.equal('');
    }
  });

  it("reports a server Nova puts in ERROR with Nova's fault, and boots it again once it can run", async () => {
    // A flavor whose extra spec no compute host has (ComputeCapabilitiesFilter): the scheduler
    // finds no valid host and Nova puts the server in ERROR.
    const huge = `syncord-test-nohost-${instance}`;
    const made = await admin.request<{ flavor: { id: string } }>('compute', 'POST', '/flavors', {
      body: { flavor: { name: huge, ram: 64, vcpus: 1, disk: 1 } },
    });
    await admin.request('compute', 'POST', `/flavors/${made.flavor.id}/os-extra_specs`, {
      body: { extra_specs: { 'capabilities:syncord_test': 'no-such-host' } },
    });
    try {
      const w = await vmWorld({ flavor: huge });
      let last: ModelObject | undefined;
      const failed = await eventually(
        'the VNF in error with the fault',
        async () => {
          last = await svc.get('VNFServiceInstance', w.vnf.id);
          return last.backend_code === 2 && last.vm_status === 'ERROR' ? last : undefined;
        },
        180_000,
      ).catch((err: unknown) => {
        throw new Error(
          `${String(err)}; it is at ${String(last?.backend_code)}: ${String(last?.backend_status)} (vm_status ${String(last?.vm_status)})`,
          { cause: err },
        );
      });
      expect(failed.vm_message).to.match(/No valid host/i);
      expect(failed.backend_status).to.match(/went to ERROR: .*No valid host/i);
      // Fixed in the model: the failed server is replaced by one that runs.
      await svc.update('Flavor', w.flavor.id, { flavor: 'm1.tiny' });
      const ok = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
      expect([ok.vm_status, ok.vm_message]).to.deep.equal(['ACTIVE', null]);
      expect((await serversOf(ok)).map((x) => x.status)).to.deep.equal(['ACTIVE']);
    } finally {
      await admin.request('compute', 'DELETE', `/flavors/${made.flavor.id}`);
    }
  });

  it('boots an OpenStackServiceInstance with its user data', async () => {
    const w = await vmWorld();
    await svc.delete('VNFServiceInstance', w.vnf.id);
    const service = await svc.create('OpenStackService', { name: `${w.td.name as string}-os` });
    const userData = '#cloud-config\nhostname: legacy-router\n';
    const si = await svc.create('OpenStackServiceInstance', {
      name: `${w.td.name as string}-legacy`,
      owner_id: service.id,
      slice_id: w.slice.id,
      image_id: w.image.id,
      flavor_id: w.flavor.id,
      user_data: userData,
    });
    const port = await svc.create('Port', {
      network_id: w.networks[0]!.id,
      service_instance_id: si.id,
      interface_name: 'eth0',
    });
    const done = await synced(svc, 'OpenStackServiceInstance', si.id, { timeoutMs: 180_000, log });
    expect([done.vm_status, done.node_name]).to.deep.equal(['ACTIVE', 'rig-compute']);
    const server = (await nova.server(String(done.server_id))) as unknown as Record<
      string,
      unknown
    >;
    expect(server.name).to.equal(`syncord-${instance}-OpenStackServiceInstance-${String(si.id)}`);
    // Nova shows an admin the user data it was given (base64).
    const given = Buffer.from(String(server['OS-EXT-SRV-ATTR:user_data']), 'base64').toString();
    expect(given).to.equal(userData);
    const p = await synced(svc, 'Port', port.id, { timeoutMs: 60_000, log });
    expect(p.port_id).to.be.a('string');
  });

  it('gives an error status naming a flavor OpenStack does not have, and makes nothing', async () => {
    const w = await vmWorld({ flavor: 'm1.enormous' });
    const vnf = await eventually(
      'the VNF in error',
      async () => {
        const o = await svc.get('VNFServiceInstance', w.vnf.id);
        return o.backend_code === 2 ? o : undefined;
      },
      60_000,
    );
    expect(vnf.backend_status).to.match(
      new RegExp(
        `Flavor ${w.flavor.name as string}: OpenStack Cluster .* has no flavor m1\\.enormous \\(it has .*m1\\.tiny`,
      ),
    );
    expect(await serversOf(vnf)).to.have.length(0);
    expect(await neutronPortsOf(w.ports)).to.have.length(0);

    // Fixed in the model: it converges.
    const f = await svc.get('Flavor', w.flavor.id);
    await svc.update('Flavor', f.id, { flavor: 'm1.tiny' });
    // (it is retried on its backoff; nothing else needs to change)
    await synced(svc, 'VNFServiceInstance', vnf.id, { timeoutMs: 180_000, log });
  });

  it("boots Nova's server again when it is deleted out of band, on the same ports", async () => {
    const w = await vmWorld();
    const first = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    const portsBefore = (await neutronPortsOf(w.ports)).map((p) => p.id).sort();
    await nova.deleteServer(String(first.server_id));
    await eventually(
      'Nova deleted it',
      async () => ((await nova.server(String(first.server_id))) ? undefined : true),
      60_000,
    );
    await set.observer.poll();
    const again = await eventually(
      'a new server ACTIVE',
      async () => {
        const o = await svc.get('VNFServiceInstance', w.vnf.id);
        return o.server_id !== first.server_id && o.vm_status === 'ACTIVE' && o.backend_code === 1
          ? o
          : undefined;
      },
      180_000,
    );
    const servers = await serversOf(again);
    expect(servers.map((s) => s.id)).to.deep.equal([again.server_id]);
    const portsAfter = await neutronPortsOf(w.ports);
    expect(portsAfter.map((p) => p.id).sort()).to.deep.equal(portsBefore);
    for (const p of portsAfter) expect(p.device_id).to.equal(again.server_id);
  });

  it('replaces the server when its Flavor is edited to another flavor, keeping its ports', async () => {
    const w = await vmWorld();
    const first = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    const ports = (await neutronPortsOf(w.ports)).map((p) => p.id).sort();
    // The Flavor itself is edited: its instances follow.
    await svc.update('Flavor', w.flavor.id, { flavor: 'm1.small' });
    const again = await eventually(
      'a new server with m1.small',
      async () => {
        const o = await svc.get('VNFServiceInstance', first.id);
        return o.backend_code === 1 &&
          o.synced_version === o.version &&
          o.server_id !== first.server_id
          ? o
          : undefined;
      },
      180_000,
    );
    const [server, ...more] = await serversOf(again);
    expect(more).to.have.length(0);
    expect(server?.flavor?.original_name).to.equal('m1.small');
    expect((await neutronPortsOf(w.ports)).map((p) => p.id).sort()).to.deep.equal(ports);
    expect(again.backend_status).to.match(/m1\.small/);
  });

  it('makes a Neutron port deleted out of band again, with the same address and MAC, and attaches it', async () => {
    const w = await vmWorld();
    const vnf = await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    const port = await svc.get('Port', w.ports[0]!.id);
    await neutron.deletePort(String(port.port_id));
    await set.observer.poll();
    const again = await eventually(
      'a new Neutron port attached',
      async () => {
        const [np] = await neutron.ports({ name: portName(port) });
        return np && np.id !== port.port_id && np.device_id === vnf.server_id ? np : undefined;
      },
      120_000,
    );
    expect(again.mac_address).to.equal(String(port.mac).toLowerCase());
    expect(again.fixed_ips.map((f) => f.ip_address)).to.deep.equal([port.ip]);
    const interfaces = await nova.interfaces(String(vnf.server_id));
    expect(interfaces.map((i) => i.port_id)).to.include(again.id);
    await eventually('the Port records it', async () => {
      const p = await svc.get('Port', port.id);
      return p.port_id === again.id ? p : undefined;
    });
  });

  it('deleting the instance removes its server and ports and frees their addresses', async () => {
    const w = await vmWorld();
    await synced(svc, 'VNFServiceInstance', w.vnf.id, { timeoutMs: 180_000, log });
    const ports = await Promise.all(w.ports.map((p) => svc.get('Port', p.id)));
    const vnf = await svc.get('VNFServiceInstance', w.vnf.id);
    await svc.delete('VNFServiceInstance', vnf.id);
    await eventually(
      'instance and ports reaped',
      async () => {
        const r = await db.sql.query<{ n: string }>(
          'SELECT count(*) AS n FROM service_instance WHERE id = $1',
          [vnf.id],
        );
        return r.rows[0]!.n === '0' ? true : undefined;
      },
      120_000,
    );
    expect(await serversOf(vnf)).to.have.length(0);
    expect(await neutronPortsOf(ports)).to.have.length(0);
    // The addresses are free: another instance's ports take them as static addresses.
    const other = await svc.create('VNFServiceInstance', {
      name: `${w.td.name as string}-next`,
      owner_id: w.owner.id,
      slice_id: w.slice.id,
      image_id: w.image.id,
      flavor_id: w.flavor.id,
      workload: 'vm',
    });
    for (const p of ports) {
      const again = await svc.create('Port', {
        network_id: p.network_id,
        service_instance_id: other.id,
        ip: p.ip,
        mac: p.mac,
      });
      expect(again.ip).to.equal(p.ip);
    }
    await synced(svc, 'VNFServiceInstance', other.id, { timeoutMs: 180_000, log });

    // The trust domain goes (with its slice, instance and ports): its project goes last.
    const keystone = new Keystone(admin);
    expect(await keystone.projects({ name: w.td.name as string })).to.have.length(1);
    await svc.delete('TrustDomain', w.td.id);
    await eventually(
      'the project removed',
      async () =>
        (await keystone.projects({ name: w.td.name as string })).length ? undefined : true,
      120_000,
    );
    expect(await serversOf(other)).to.have.length(0);
  });
});
