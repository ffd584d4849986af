// Adoption of one pod on an OVN network as a CORD site has it, made out of band across three
// backends on the rig: a logical switch and its port (ovn-nbctl); in Kubernetes a namespace, the
// network's NetworkAttachmentDefinition (Syncord's OVN form, naming the switch) and a pod whose
// Multus interface asks for that switch port's address and MAC; in VTN a service network, a
// service port and its host where VTN detects it on the pod's node (the VTN client). Each
// backend's source shows its side of one network and one interface; discoverAll merges them (by
// subnet, by MAC) into one Network and one Port whose handle names every side, and what
// Kubernetes tells (whose interface it is, on which node) resolves what OVN and VTN cannot. The
// pod cannot be adopted without its interface. Adopted, the OVN, Kubernetes and VTN steps
// converge and every object is the same but for Syncord's marks: the pod is not replaced, the
// switch and its port change in external_ids only, the NAD in its labels only, the VTN network
// and port in their annotations only, and the host not at all.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { comment, OvsdbClient, type Monitor, type Row } from '../../backends/ovn/ovsdb.js';
import { VtnClient } from '../../backends/vtn/client.js';
import { VLAN_NONE } from '../../backends/vtn/store.js';
import { connectPointOf, vtnStepSet, type VtnSteps } from '../../steps/vtn/index.js';
import type { ModelService } from '../../models/service.js';
import { kubernetesAdoptSource } from '../../steps/kubernetes/adopt.js';
import { kubernetesStepSet, type KubernetesSteps } from '../../steps/kubernetes/index.js';
import { ovnStepSet, type OvnSteps } from '../../steps/ovn/index.js';
import { registerOvnDeployment } from '../../steps/ovn/names.js';
import {
  adopt,
  AdoptError,
  discoverAll,
  pickCandidates,
  type AdoptCandidate,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import type { Engine } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { comparable, OWNER_LABELS, without, type KubeObj as Obj } from '../support/kube-compare.js';
import { eventually, kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';
import { recordVtnWrites } from '../support/vtn.js';

const exec = promisify(execFile);
process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';

/** An OVSDB row as compared before and after: all but external_ids. */
const rowBut = (r: Row) => {
  const rest: Record<string, unknown> = { ...r };
  delete rest.external_ids;
  return JSON.stringify(rest);
};

describe('adoption across backends: a pod on an OVN network, as a site has it', function () {
  this.timeout(180_000);
  const instance = uniqueName('siteadopt');
  const run = uniqueName('site');
  const ns = run;
  const podName = `${run}-vnf`;
  const nadName = 'red';
  const sw = `${run}-sw`;
  const lsp = `${run}-lsp`;
  const base = `10.${String(150 + (process.pid % 50))}.${String(process.pid % 250)}`;
  const subnet = `${base}.0/24`;
  const gateway = `${base}.1`;
  const ip = `${base}.7`;
  const mac = `0a:58:00:${(process.pid % 256).toString(16).padStart(2, '0')}:00:07`;
  const log: string[] = [];
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let nb: OvsdbClient;
  let watch: Monitor;
  let kube: KubernetesSteps;
  let ovn: OvnSteps;
  let vtn: VtnSteps;
  /** The test's own VTN client: the out-of-band objects, and reads. */
  let vtnClient: VtnClient;
  /** Every write of the VTN steps' client: `putPort <id>`. */
  const vtnWrites: string[] = [];
  const vtnIds = { net: `${run}-vnet`, port: `${run}-vport` };
  const vni = 400_000 + (process.pid % 50_000);
  const created = '1700000000000';
  let sources: AdoptSource[];
  let engine: Engine | undefined;
  let unregister: () => void = () => undefined;
  /** Every change of an OVN row, by uuid: the columns that changed. */
  const changes = new Map<string, string[][]>();
  const snap: Record<string, Obj> = {};
  const keys = {
    ns: `kubernetes/Namespace/${ns}`,
    nad: `kubernetes/NetworkAttachmentDefinition/${nadName}`,
    pod: `kubernetes/Pod/${ns}/${podName}`,
    iface: `kubernetes/Interface/${ns}/${podName}/net1`,
    sw: `ovn/Logical_Switch/${sw}`,
    lsp: `ovn/Logical_Switch_Port/${lsp}`,
    vnet: `vtn/ServiceNetwork/${vtnIds.net}`,
    vport: `vtn/ServicePort/${vtnIds.port}`,
  };
  /** The VTN objects, whole: the network, the port, its host. */
  const vtnState = async () => ({
    network: await vtnClient.getNetwork(vtnIds.net),
    port: await vtnClient.getPort(vtnIds.port),
    hosts: await vtnClient.listHosts({ networkId: vtnIds.net }),
  });
  let vtnBefore: Awaited<ReturnType<typeof vtnState>>;
  /** Annotations aside (Syncord's marks go there), as text. */
  const unannotated = (x: unknown) =>
    JSON.stringify(x, (k, v: unknown) => (k === 'annotations' ? undefined : v));

  const nbctl = async (...args: string[]) =>
    (await exec('ovn-nbctl', [`--db=${env.OVN_NB_DB}`, ...args])).stdout.trim();
  const row = (table: string, name: string): Row => {
    const rows = watch.rows(table).filter((r) => r.name === name);
    expect(rows, `${table} ${name}`).to.have.length(1);
    return rows[0]!;
  };
  const readPod = async () =>
    (await core.readNamespacedPod({ namespace: ns, name: podName })) as k8s.V1Pod & Obj;
  const readNad = async () =>
    (await custom.getNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: ns,
      plural: 'network-attachment-definitions',
      name: nadName,
    })) as Obj;
  const discover = async () => {
    const { candidates, failures } = await discoverAll(svc, sources, {});
    expect(failures).to.deep.equal([]);
    return new Map(candidates.map((c) => [c.key, c]));
  };
  const synced = (model: string, id: number) =>
    eventually(`${model} ${String(id)} synced`, async () => {
      const o = await svc.get(model, id);
      return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
    });

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    db = await scratchDb();
    svc = db.service;
    const kc = kubeConfig(env);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    nb = await OvsdbClient.connect(env.OVN_NB_DB, { database: 'OVN_Northbound' });
    watch = await nb.monitor({ Logical_Switch: undefined, Logical_Switch_Port: undefined });
    watch.on('change', (change) => {
      if (change.kind !== 'modify') return;
      const columns = Object.keys({ ...change.old, ...change.new }).filter(
        (c) => JSON.stringify(change.old?.[c]) !== JSON.stringify(change.new?.[c]),
      );
      changes.set(change.uuid, [...(changes.get(change.uuid) ?? []), columns.sort()]);
    });

    // OVN, by hand: the switch (its subnet, the gateway kept out of IPAM) and the pod's port.
    await nbctl(
      'ls-add',
      sw,
      '--',
      'set',
      'Logical_Switch',
      sw,
      `other_config:subnet=${subnet}`,
      `other_config:exclude_ips=${gateway}`,
    );
    const address = `${mac} ${ip}`;
    await nbctl(
      'lsp-add',
      sw,
      lsp,
      '--',
      'lsp-set-addresses',
      lsp,
      address,
      '--',
      'lsp-set-port-security',
      lsp,
      address,
    );

    // Kubernetes, by hand: the namespace, the NAD naming the switch, the pod on it.
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await eventually(`the default ServiceAccount in ${ns}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    const config = {
      cniVersion: '0.4.0',
      name: nadName,
      type: 'ovn4nfvk8s-cni',
      logical_switch: sw,
      subnet,
      gateway,
      segment_id: vni,
      capabilities: { ips: true, mac: true },
      ipam: { type: 'static' },
    };
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: ns,
      plural: 'network-attachment-definitions',
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: nadName, namespace: ns },
        spec: { config: JSON.stringify(config) },
      },
    });
    const networks = [
      {
        name: nadName,
        namespace: ns,
        interface: 'net1',
        ips: [`${ip}/24`],
        mac,
        'cni-args': { ovnPort: lsp },
      },
    ];
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: podName, annotations: { [NETWORKS]: JSON.stringify(networks) } },
        spec: { containers: [{ name: 'main', image: `registry.example/${run}/vnf:1.0` }] },
      },
    });
    // Another pod on the network whose request says the same in another layout: the pod step
    // writes its own text, so adopting it would replace the pod; it is listed with why.
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: `${podName}-b`,
          annotations: {
            [NETWORKS]: JSON.stringify([
              {
                name: nadName,
                interface: 'net1',
                mac: mac.replace(/07$/, '08'),
                ips: [`${base}.8/24`],
              },
            ]),
          },
        },
        spec: { containers: [{ name: 'main', image: `registry.example/${run}/vnf:1.0` }] },
      },
    });
    // Running, and Multus (the rig's stand-in) has told its interfaces.
    snap.pod = await eventually(`pod ${podName} Running with its network-status`, async () => {
      const p = await readPod();
      return p.status?.phase === 'Running' &&
        p.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status']
        ? p
        : undefined;
    });
    snap.nad = await readNad();

    // VTN, by hand: the network, the port (named as the switch port: what the pod's CNI binds),
    // and its host where VTN detects it: the pod's node, at the pod's interface.
    vtnClient = new VtnClient(env.SYNCORD_VTN_ADDRESS, { deadlineMs: 3000 });
    await vtnClient.putNetwork({
      id: vtnIds.net,
      name: nadName,
      type: 'FLAT',
      segment_id: vni,
      subnet,
      service_ip: gateway,
    });
    await vtnClient.putPort({
      id: vtnIds.port,
      network_id: vtnIds.net,
      name: lsp,
      mac_address: mac,
      ip_address: ip,
    });
    const node = (snap.pod as k8s.V1Pod).spec?.nodeName ?? '';
    await vtnClient.hostDetected({
      host_id: { mac, vlan_id: VLAN_NONE },
      description: {
        hw_address: mac,
        vlan: VLAN_NONE,
        location: { connect_point: connectPointOf(node, 'net1'), time: created },
        ip_addresses: [ip],
        annotations: {
          networkId: vtnIds.net,
          networkType: 'FLAT',
          portId: vtnIds.port,
          createTime: created,
        },
      },
      replace_ips: true,
    });
    vtnBefore = await vtnState();

    await svc.create('KubernetesService', { name: `${run}-k8s` });
    await svc.create('Site', { name: `${run}-site` });
    ovn = ovnStepSet({ nbEndpoint: env.OVN_NB_DB, instance, log: (l) => log.push(l) });
    kube = kubernetesStepSet({ instance, sweepMs: 0, log: (l) => log.push(l) });
    vtn = vtnStepSet({
      address: env.SYNCORD_VTN_ADDRESS,
      instance,
      sweepMs: 60 * 60_000,
      client: { deadlineMs: 3000 },
      log: (l) => log.push(l),
    });
    recordVtnWrites(vtn.runtime.client, vtnWrites);
    sources = [ovn.source, kubernetesAdoptSource(kube.runtime, { ovn: true }), vtn.source];
    // What the OVN observer does when it starts: pods' interfaces then name their switch ports.
    unregister = registerOvnDeployment(instance);
    await nb.transact([comment('site adopt test: set up')]);
    changes.clear();
  });
  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
    unregister();
    await vtnClient.hostVanished({ mac, vlan_id: VLAN_NONE }).catch(() => undefined);
    await vtnClient.deletePort(vtnIds.port).catch(() => undefined);
    await vtnClient.deleteNetwork(vtnIds.net).catch(() => undefined);
    vtnClient.close();
    await vtn.source.close?.();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await nbctl('--if-exists', 'ls-del', sw).catch(() => undefined);
    nb.close();
    await db.drop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  it('lists one network and one interface, merged from the three backends', async () => {
    const found = await discover();
    // The OVN and VTN candidates are merged into Kubernetes' (which tell more), not listed apart.
    for (const k of [keys.sw, keys.lsp, keys.vnet, keys.vport])
      expect(found.has(k), k).to.equal(false);
    const net = found.get(keys.nad)!;
    expect(net.also).to.deep.equal([keys.vnet, keys.sw]);
    expect(net.problem).to.equal(undefined);
    expect(net.handle).to.deep.equal({
      'kubernetes/NetworkAttachmentDefinition': nadName,
      'ovn/Logical_Switch': sw,
      'vtn/ServiceNetwork': vtnIds.net,
    });
    expect(net.values).to.deep.equal({
      name: nadName,
      provider: 'ovn',
      subnet,
      type: 'FLAT',
      dhcp: false,
      gateway,
      segment_id: vni,
    });

    const port = found.get(keys.iface)!;
    expect(port.also).to.deep.equal([keys.vport, keys.lsp]);
    // OVN and VTN alone cannot tell whose port it is; Kubernetes does, and its node is where
    // VTN has the host.
    expect(port.problem).to.equal(undefined);
    expect(port.values).to.deep.equal({ name: `${podName}-net1`, interface_name: 'net1', ip, mac });
    expect(port.refs).to.deep.equal({ service_instance_id: keys.pod, network_id: keys.nad });
    expect(port.handle).to.deep.equal({
      'kubernetes/Interface': `${ns}/${podName}/net1`,
      'ovn/Logical_Switch_Port': lsp,
      'vtn/ServicePort': vtnIds.port,
    });
    const pod = found.get(keys.pod)!;
    expect(pod.problem).to.equal(undefined);
    expect(pod.together).to.deep.equal([keys.iface]);

    const other = found.get(`kubernetes/Pod/${ns}/${podName}-b`)!;
    expect(other.problem).to.match(
      /^its k8s\.v1\.cni\.cncf\.io\/networks is not the text Syncord writes for these interfaces \(the pod would be replaced\): \[\{"name":"red","namespace":/,
    );
    expect(found.get(`kubernetes/Interface/${ns}/${podName}-b/net1`)?.problem).to.equal(
      `its pod: ${other.problem ?? ''}`,
    );
  });

  it('refuses the pod without its interface, and the interface by its OVN key names it', async () => {
    const found = [...(await discover()).values()];
    const podOnly = found.filter((c) => c.key !== keys.iface && !c.problem);
    let refused: unknown;
    try {
      await adopt(svc, podOnly);
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(AdoptError);
    expect((refused as AdoptError).message).to.equal(
      `${keys.pod}: it must be adopted with ${keys.iface} (adopt them too)`,
    );
    const n = await db.sql.query<{ n: string }>(
      'SELECT count(*) AS n FROM port WHERE backend_handle IS NOT NULL',
    );
    expect(n.rows[0]!.n).to.equal('0');
    expect(pickCandidates(found, [keys.lsp]).chosen.map((c) => c.key)).to.deep.equal([keys.iface]);
  });

  it('adopts them as one, and the steps converge with no change but the marks', async () => {
    const found: AdoptCandidate[] = [...(await discover()).values()];
    const swBefore = rowBut(row('Logical_Switch', sw));
    const lspBefore = rowBut(row('Logical_Switch_Port', lsp));
    const adopted = await adopt(
      svc,
      found.filter((c) => !c.problem),
    );
    const idOf = (key: string) => adopted.find((a) => a.key === key)!.id;
    const port = await svc.get('Port', idOf(keys.iface));
    const si = await svc.get('KubernetesServiceInstance', idOf(keys.pod));
    const network = await svc.get('Network', idOf(keys.nad));
    expect(port).to.include({
      ip,
      mac,
      interface_name: 'net1',
      network_id: network.id,
      service_instance_id: si.id,
    });
    expect(network.backend_handle).to.deep.equal({
      'kubernetes/NetworkAttachmentDefinition': nadName,
      'ovn/Logical_Switch': sw,
      'vtn/ServiceNetwork': vtnIds.net,
    });

    engine = await startTestEngine(db, [...ovn.steps, ...kube.steps, ...vtn.steps], log);
    await synced('Network', network.id);
    await synced('Port', port.id);
    await synced('KubernetesServiceInstance', si.id);

    // The same pod (not replaced), with Syncord's labels and spec hash added, nothing else.
    const pod = await readPod();
    expect(pod.metadata?.uid).to.equal(snap.pod!.metadata?.uid);
    expect(pod.metadata?.labels).to.include({
      'syncord.io/instance': instance,
      'syncord.io/model': 'KubernetesServiceInstance',
      'syncord.io/id': String(si.id),
    });
    expect(
      comparable(pod, { labels: OWNER_LABELS, annotations: ['syncord.io/spec-hash'] }),
    ).to.deep.equal(comparable(snap.pod!));
    // The NAD: its labels added; its config the same text.
    const nad = await readNad();
    expect(nad.metadata?.labels).to.include({ 'syncord.io/model': 'Network' });
    expect(comparable(nad, { labels: OWNER_LABELS })).to.deep.equal(comparable(snap.nad!));

    // OVN: the switch and its port changed in external_ids only.
    await nb.transact([comment('site adopt test: caught up')]);
    const swRow = row('Logical_Switch', sw);
    const lspRow = row('Logical_Switch_Port', lsp);
    expect(rowBut(swRow)).to.equal(swBefore);
    expect(rowBut(lspRow)).to.equal(lspBefore);
    for (const r of [swRow, lspRow]) {
      for (const cols of changes.get(r._uuid as string) ?? []) {
        expect(cols).to.deep.equal(['external_ids']);
      }
    }
    expect(changes.get(lspRow._uuid as string)).to.have.length.greaterThan(0);
    // VTN: the network, the port and the host changed in their annotations only, by Syncord's
    // marks.
    const after = await vtnState();
    expect(unannotated(after)).to.equal(unannotated(vtnBefore));
    const unmarked = (a: Record<string, string> | undefined) =>
      without(a, ['syncord-id', 'syncord-instance', 'syncord-model']);
    expect(after.hosts.map((h) => unmarked(h.annotations))).to.deep.equal(
      vtnBefore.hosts.map((h) => h.annotations),
    );
    expect(after.hosts[0]?.annotations).to.include({ 'syncord-model': 'Port' });
    expect(after.port?.annotations).to.include({ 'syncord-model': 'Port' });
    // One write of each, the marks (a host's annotations are written by detecting it again).
    expect(vtnWrites.sort()).to.deep.equal([
      `hostDetected ${mac.toUpperCase()}`,
      `putNetwork ${vtnIds.net}`,
      `putPort ${vtnIds.port}`,
    ]);
    // Nothing is left to adopt from any side.
    const left = await discover();
    for (const k of Object.values(keys)) expect(left.has(k), k).to.equal(false);
  });
});
