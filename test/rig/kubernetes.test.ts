// Smoke tests of the rig's Kubernetes: the real kube-apiserver, controller-manager and scheduler
// built from the pinned release, and kwok playing the kubelets, driven through
// @kubernetes/client-node as Syncord will drive them.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { versions } from '../../rig/config.js';
import { eventually, kubeConfig, rig, uniqueName, type RigEnv } from '../support/rig.js';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

interface NetworkStatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  default: boolean;
}

/** Waits until reading the object answers 404. */
function gone(what: string, read: () => Promise<unknown>, timeoutMs?: number): Promise<true> {
  return eventually(
    what,
    () =>
      read().then(
        () => undefined,
        (err: unknown) => ((err as { code?: number }).code === 404 ? (true as const) : undefined),
      ),
    timeoutMs,
  );
}

/** The inclusive range of an IPv4 CIDR as numbers. */
function inCidr(ip: string, cidr: string): boolean {
  const toNum = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = toNum(base);
  return toNum(ip) >= start && toNum(ip) < start + size;
}

describe('rig: Kubernetes', function () {
  this.timeout(120_000);
  let env: RigEnv;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  const namespaces: string[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    kc = kubeConfig(env);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
  });

  after(async function () {
    for (const name of namespaces) {
      await core.deleteNamespace({ name }).catch(() => undefined);
    }
  });

  /** A fresh namespace with its default service account (made by the controller-manager). */
  async function freshNamespace(): Promise<string> {
    const name = uniqueName('rig-smoke');
    await core.createNamespace({ body: { metadata: { name } } });
    namespaces.push(name);
    await eventually(`the default ServiceAccount in ${name}`, async () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
    );
    return name;
  }

  function pod(name: string, annotations?: Record<string, string>): k8s.V1Pod {
    return {
      metadata: { name, annotations },
      spec: { containers: [{ name: 'main', image: 'registry.example/vnf:1.0' }] },
    };
  }

  async function running(namespace: string, name: string): Promise<k8s.V1Pod> {
    return eventually(`pod ${namespace}/${name} Running`, async () => {
      const p = await core.readNamespacedPod({ name, namespace });
      return p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
    });
  }

  it('serves the pinned Kubernetes release and says so in /version', async () => {
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(info.gitVersion).to.equal(versions.kubernetes);
  });

  it('refuses a request without credentials (token authentication and RBAC are on)', async () => {
    const anonymous = new k8s.KubeConfig();
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the rig kubeconfig has no cluster');
    anonymous.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'c', cluster: cluster.name, user: 'nobody' }],
      currentContext: 'c',
    });
    const err = await anonymous
      .makeApiClient(k8s.CoreV1Api)
      .listNamespace()
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number },
      );
    expect(err?.code).to.be.oneOf([401, 403]);
  });

  it('has Ready kwok nodes with a podCIDR each', async () => {
    const nodes = await core.listNode({ labelSelector: 'type=kwok' });
    expect(nodes.items.length).to.be.at.least(2);
    for (const n of nodes.items) {
      expect(n.spec?.podCIDR, n.metadata?.name).to.be.a('string');
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status, n.metadata?.name).to.equal('True');
    }
  });

  it('schedules a pod onto a fake node, where it gets an IP from the node and runs', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: pod('vnf-a') });
    const p = await running(ns, 'vnf-a');
    const nodeName = p.spec?.nodeName ?? '';
    expect(nodeName).to.match(/^kwok-node-/);
    const node = await core.readNode({ name: nodeName });
    expect(inCidr(p.status?.podIP ?? '', node.spec?.podCIDR ?? '')).to.equal(true);
    expect(p.status?.containerStatuses?.[0]?.ready).to.equal(true);
  });

  it('really removes a deleted pod', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: pod('short-lived') });
    await running(ns, 'short-lived');
    await core.deleteNamespacedPod({ name: 'short-lived', namespace: ns });
    await gone('the pod to be gone', () =>
      core.readNamespacedPod({ name: 'short-lived', namespace: ns }),
    );
  });

  it('garbage-collects an object whose owner is deleted (controller-manager runs)', async () => {
    const ns = await freshNamespace();
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner' }, data: { a: '1' } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await gone('the dependent ConfigMap to be collected', () =>
      core.readNamespacedConfigMap({ name: 'dependent', namespace: ns }),
    );
  });

  it('deletes a namespace with its pods (namespace controller runs)', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: pod('doomed') });
    await running(ns, 'doomed');
    await core.deleteNamespace({ name: ns });
    await gone(`namespace ${ns} to be gone`, () => core.readNamespace({ name: ns }), 60_000);
  });

  it('stores a NetworkAttachmentDefinition (the Multus CRD is installed)', async () => {
    const ns = await freshNamespace();
    const config = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'mgmt-net',
      type: 'ovn-k8s-cni-overlay',
    });
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: ns,
      plural: 'network-attachment-definitions',
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'mgmt-net' },
        spec: { config },
      },
    });
    const read = (await custom.getNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace: ns,
      plural: 'network-attachment-definitions',
      name: 'mgmt-net',
    })) as { spec: { config: string } };
    expect(read.spec.config).to.equal(config);
  });

  it('reports network-status for a pod that asks for networks in the JSON form', async () => {
    const ns = await freshNamespace();
    const requests = [
      { name: 'mgmt-net', interface: 'mgmt0', ips: ['10.10.0.5/24'], mac: '02:00:00:00:00:05' },
      { name: 'access-net', namespace: 'shared', ips: ['192.168.7.9/24'] },
    ];
    await core.createNamespacedPod({
      namespace: ns,
      body: pod('vsg-1', { [NETWORKS]: JSON.stringify(requests) }),
    });
    const status = await eventually('network-status on the pod', async () => {
      const p = await core.readNamespacedPod({ name: 'vsg-1', namespace: ns });
      const raw = p.metadata?.annotations?.[NETWORK_STATUS];
      return raw ? { pod: p, entries: JSON.parse(raw) as NetworkStatusEntry[] } : undefined;
    });
    expect(status.entries).to.have.length(3);
    const [primary, mgmt, access] = status.entries;
    expect(primary).to.include({ default: true, interface: 'eth0' });
    expect(primary?.ips).to.deep.equal([status.pod.status?.podIP]);
    expect(mgmt).to.deep.include({
      name: `${ns}/mgmt-net`,
      interface: 'mgmt0',
      ips: ['10.10.0.5/24'],
      mac: '02:00:00:00:00:05',
      default: false,
    });
    expect(access).to.deep.include({
      name: 'shared/access-net',
      interface: 'net2',
      ips: ['192.168.7.9/24'],
      default: false,
    });
    expect(access?.mac).to.match(/^0a:58(:[0-9a-f]{2}){4}$/);
  });

  it('reports network-status for the comma form, the same network twice', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({
      namespace: ns,
      body: pod('vnf-comma', { [NETWORKS]: 'net-a, other/net-b@wan0, net-a' }),
    });
    const entries = await eventually('network-status on the pod', async () => {
      const p = await core.readNamespacedPod({ name: 'vnf-comma', namespace: ns });
      const raw = p.metadata?.annotations?.[NETWORK_STATUS];
      return raw ? (JSON.parse(raw) as NetworkStatusEntry[]) : undefined;
    });
    expect(entries.map((e) => [e.name, e.interface])).to.deep.equal([
      ['kwok', 'eth0'],
      [`${ns}/net-a`, 'net1'],
      ['other/net-b', 'wan0'],
      [`${ns}/net-a`, 'net3'],
    ]);
  });

  it('leaves a pod that asks for no networks without network-status', async () => {
    const ns = await freshNamespace();
    await core.createNamespacedPod({ namespace: ns, body: pod('plain') });
    const p = await running(ns, 'plain');
    expect(p.metadata?.annotations?.[NETWORK_STATUS]).to.equal(undefined);
  });
});
