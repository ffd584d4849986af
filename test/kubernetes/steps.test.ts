// The Kubernetes steps end to end: models in a scratch database, the engine running
// kubernetesSteps(), and the rig's real kube-apiserver with kwok playing the kubelets and a kwok
// stage playing Multus. Every test makes its own trust domain (namespace) and names; the steps
// run as a Syncord deployment of their own (the `syncord.io/instance` label), so other test runs
// on the same rig are neither seen nor touched.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { NotFoundError } from '../../models/errors.js';
import { readHistory } from '../../models/history.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import type { KubernetesSteps } from '../../steps/kubernetes/index.js';
import type { Engine } from '../../synchronizer/engine.js';
import type { ScratchDb } from '../support/db.js';
import { useKubernetesSteps, vnfTenant } from '../support/kube-steps.js';
import { eventually, uniqueName, type RigEnv } from '../support/rig.js';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };

interface World {
  td: ModelObject;
  ns: string;
  slice: ModelObject;
  image: ModelObject;
  flavor: ModelObject;
  mgmt: ModelObject;
  data: ModelObject;
  vnf: ModelObject;
  ports: ModelObject[];
  pod: string;
}

describe('kubernetes: the steps against the rig', function () {
  this.timeout(120_000);
  const h = useKubernetesSteps('test');
  let env: RigEnv;
  let db: ScratchDb;
  let svc: ModelService;
  let set: KubernetesSteps;
  let engine: Engine;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  before(() => {
    ({ env, db, svc, set, engine, core, custom } = h);
  });
  const { instance, log } = h;

  /** The service, site, trust domain, slice, image, flavor, two networks and a VNF on both. */
  async function world(options: { vcpus?: number; config?: unknown } = {}): Promise<World> {
    const name = uniqueName('k8s');
    const { owner, td, slice, networks } = await vnfTenant(svc, name, [
      { suffix: 'mgmt', subnet: '10.71.0.0/24', provider: 'ovn' },
      { suffix: 'data', subnet: '10.72.0.0/25', provider: 'flannel' },
    ]);
    const [mgmt, data] = networks as [ModelObject, ModelObject];
    const image = await svc.create('Image', { name: `registry.example/${name}/vnf`, tag: '1.0' });
    const flavor = await svc.create('Flavor', {
      name: `${name}-flavor`,
      vcpus: options.vcpus ?? 1,
      memory_mb: 256,
    });
    // The instance and its ports in one transaction, as an API call would make them.
    const { vnf, ports } = await svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${name}-vnf`,
        owner_id: owner.id,
        slice_id: slice.id,
        image_id: image.id,
        flavor_id: flavor.id,
        ...(options.config === undefined ? {} : { config: options.config }),
      });
      const ports = [
        await tx.create('Port', {
          network_id: mgmt.id,
          service_instance_id: vnf.id,
          interface_name: 'mgmt0',
        }),
        await tx.create('Port', { network_id: data.id, service_instance_id: vnf.id }),
      ];
      return { vnf, ports };
    });
    return { td, ns: name, slice, image, flavor, mgmt, data, vnf, ports, pod: `${name}-vnf` };
  }

  const get = (model: string, id: number) => svc.get(model, id, { includeDeleted: true });

  /** Waits for the object to be synced at its version; a timeout says where it stood. */
  const synced = async (model: string, id: number, what = `${model} ${String(id)} synced`) => {
    try {
      return await eventually(
        what,
        async () => {
          const o = await get(model, id);
          return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
        },
        60_000,
      );
    } catch (err) {
      const o = await get(model, id);
      throw new Error(
        `${(err as Error).message}; it is at backend_code ${String(o.backend_code)}: ${String(o.backend_status)} (engine idle: ${String(engine.idle())}, queue depth ${String(engine.queue.depth)}, in flight ${String(engine.queue.inFlight)})`,
        { cause: err },
      );
    }
  };

  const readPod = (ns: string, name: string) =>
    core.readNamespacedPod({ name, namespace: ns }).catch((err: unknown) => {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    });

  const running = (w: World, what = `pod ${w.ns}/${w.pod} Running`) =>
    eventually(
      what,
      async () => {
        const p = await readPod(w.ns, w.pod);
        return p?.status?.phase === 'Running' && !p.metadata?.deletionTimestamp ? p : undefined;
      },
      60_000,
    );

  /** The instance's feedback says Running on a node with an IP, for the pod with this uid. */
  const reported = (w: World, pod: k8s.V1Pod) =>
    eventually(
      `${w.vnf.name as string}'s feedback`,
      async () => {
        const o = await get('VNFServiceInstance', w.vnf.id);
        return o.pod_phase === 'Running' &&
          o.node_name === pod.spec?.nodeName &&
          o.pod_ip === pod.status?.podIP
          ? o
          : undefined;
      },
      30_000,
    );

  const gone = (what: string, read: () => Promise<unknown>, timeoutMs = 60_000) =>
    eventually(
      what,
      () =>
        read().then(
          () => undefined,
          (err: unknown) => ((err as { code?: number }).code === 404 ? true : undefined),
        ),
      timeoutMs,
    );

  it('makes the namespace, the NADs and the pod with IPAM addresses; reports it running', async () => {
    const t0 = Date.now();
    const w = await world({ config: { upstream: '10.0.0.1', mode: 'router' } });
    const vnf = await synced('VNFServiceInstance', w.vnf.id);
    expect(vnf.backend_status).to.match(
      /^created pod .*\(registry\.example\/.*:1\.0, 2 networks\)$/,
    );

    const td = await synced('TrustDomain', w.td.id);
    expect(td.backend_status).to.equal(`created namespace ${w.ns}`);
    const ns = await core.readNamespace({ name: w.ns });
    expect(ns.metadata?.labels).to.include({
      'app.kubernetes.io/managed-by': 'syncord',
      'syncord.io/instance': instance,
      'syncord.io/model': 'TrustDomain',
      'syncord.io/id': String(w.td.id),
    });

    // One NAD per network, named after it, labelled as the network's, its provider's CNI config.
    for (const [net, type] of [
      [w.mgmt, 'ovn4nfvk8s-cni'],
      [w.data, 'macvlan'],
    ] as const) {
      const nad = (await custom.getNamespacedCustomObject({
        ...NAD,
        namespace: w.ns,
        name: net.name as string,
      })) as { metadata: k8s.V1ObjectMeta; spec: { config: string } };
      expect(nad.metadata.labels).to.include({
        'syncord.io/model': 'Network',
        'syncord.io/id': String(net.id),
      });
      const config = JSON.parse(nad.spec.config) as Record<string, unknown>;
      expect(config).to.include({ type, name: net.name });
      expect(config.capabilities).to.deep.equal({ ips: true, mac: true });
      if (type === 'ovn4nfvk8s-cni') {
        expect(config).to.include({
          logical_switch: `syncord-${net.name as string}`,
          subnet: '10.71.0.0/24',
          gateway: '10.71.0.1',
        });
      }
    }

    // The pod: image, resources from the flavor, the networks request from IPAM, the config.
    const pod = await running(w);
    const ports = await Promise.all(w.ports.map((p) => get('Port', p.id)));
    expect(JSON.parse(pod.metadata?.annotations?.[NETWORKS] ?? '')).to.deep.equal([
      {
        name: w.mgmt.name,
        namespace: w.ns,
        interface: 'mgmt0',
        ips: [`${ports[0]!.ip as string}/24`],
        mac: ports[0]!.mac,
      },
      {
        name: w.data.name,
        namespace: w.ns,
        interface: 'net2',
        ips: [`${ports[1]!.ip as string}/25`],
        mac: ports[1]!.mac,
      },
    ]);
    const container = pod.spec?.containers[0];
    expect(container?.image).to.equal(`${w.image.name as string}:1.0`);
    expect(container?.resources?.limits).to.deep.equal({ cpu: '1', memory: '256Mi' });
    expect(container?.resources?.requests).to.deep.equal({ cpu: '1', memory: '256Mi' });
    expect(container?.volumeMounts?.[0]?.mountPath).to.equal('/etc/syncord/config');
    expect(pod.spec?.nodeName).to.match(/^kwok-node-/);
    expect(pod.metadata?.labels).to.include({
      'syncord.io/model': 'VNFServiceInstance',
      'syncord.io/id': String(w.vnf.id),
    });
    const cm = await core.readNamespacedConfigMap({ name: `${w.pod}-config`, namespace: w.ns });
    expect(JSON.parse(cm.data?.['config.json'] ?? '')).to.deep.equal({
      upstream: '10.0.0.1',
      mode: 'router',
    });

    // The observer's feedback: phase, node and pod IP; each Port's address from network-status.
    const fb = await reported(w, pod);
    expect(fb.pod_message).to.equal(null);
    for (const [i, port] of ports.entries()) {
      const done = await synced('Port', port.id);
      expect(done).to.include({
        observed_ip: port.ip,
        observed_mac: port.mac,
        observed_interface: i === 0 ? 'mgmt0' : 'net2',
      });
      expect(done.backend_status).to.equal(
        `attached to pod ${w.ns}/${w.pod} as ${i === 0 ? 'mgmt0' : 'net2'} (${port.ip as string}, ${port.mac as string})`,
      );
    }
    console.log(`      (models to a running, reported pod: ${String(Date.now() - t0)} ms)`);
  });

  it("carries a Network's edit to the NADs of the pods on it", async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const nadConfig = async () => {
      const nad = (await custom.getNamespacedCustomObject({
        ...NAD,
        namespace: w.ns,
        name: w.mgmt.name as string,
      })) as { spec: { config: string } };
      return JSON.parse(nad.spec.config) as { mtu?: number };
    };
    expect((await nadConfig()).mtu).to.equal(undefined);
    await svc.update('Network', w.mgmt.id, { mtu: 1400 });
    await eventually('the NAD to carry mtu 1400', async () =>
      (await nadConfig()).mtu === 1400 ? true : undefined,
    );
  });

  it('puts back a pod deleted out of band', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const first = await running(w);
    await core.deleteNamespacedPod({ name: w.pod, namespace: w.ns, gracePeriodSeconds: 0 });
    const again = await eventually(
      'a new pod',
      async () => {
        const p = await readPod(w.ns, w.pod);
        return p && p.metadata?.uid !== first.metadata?.uid && p.status?.phase === 'Running'
          ? p
          : undefined;
      },
      60_000,
    );
    expect(again.metadata?.annotations?.[NETWORKS]).to.equal(
      first.metadata?.annotations?.[NETWORKS],
    );
    const fb = await reported(w, again);
    expect(fb.backend_code).to.equal(1);
    // Meanwhile its status said what happened (the status history keeps it).
    const history = await readHistory(db.sql, db.registry, 'VNFServiceInstance', w.vnf.id);
    const said = history.findIndex(
      (h) => h.backend_code === 0 && /deleted out of band: re-creating it/.test(h.backend_status),
    );
    expect(said, JSON.stringify(history.slice(0, 4))).to.be.at.least(1);
    expect(history[0]!.backend_code, 'ok again since').to.equal(1);
  });

  it('puts back a pod edited out of band', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const first = await running(w);
    await core.patchNamespacedPod(
      {
        name: w.pod,
        namespace: w.ns,
        body: { spec: { containers: [{ name: 'main', image: 'registry.example/intruder:6' }] } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const back = await eventually(
      'the pod made again with its own image',
      async () => {
        const p = await readPod(w.ns, w.pod);
        return p &&
          p.metadata?.uid !== first.metadata?.uid &&
          p.spec?.containers[0]?.image === first.spec?.containers[0]?.image
          ? p
          : undefined;
      },
      60_000,
    );
    expect(back.metadata?.annotations?.[NETWORKS]).to.equal(
      first.metadata?.annotations?.[NETWORKS],
    );
  });

  it('replaces the pod when its image changes', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const first = await running(w);
    const image = await svc.create('Image', { name: w.image.name, tag: '2.0' });
    await svc.update('VNFServiceInstance', w.vnf.id, { image_id: image.id });
    const second = await eventually(
      'the replaced pod',
      async () => {
        const p = await readPod(w.ns, w.pod);
        return p && p.metadata?.uid !== first.metadata?.uid && !p.metadata?.deletionTimestamp
          ? p
          : undefined;
      },
      60_000,
    );
    expect(second.spec?.containers[0]?.image).to.equal(`${w.image.name as string}:2.0`);
    const vnf = await synced('VNFServiceInstance', w.vnf.id, 'the instance synced again');
    expect(vnf.version).to.equal(2);
    // Made anew; a retry the engine had queued while the old pod went may have run since.
    expect(vnf.backend_status).to.match(
      /^(created pod .* \(|pod .* is up to date \()registry\.example\/.*:2\.0, 2 networks\)$/,
    );
    await running(w, 'the new pod Running');
  });

  it('gives the pod a port added later, and takes away a port removed', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const first = await running(w);
    const extra = await svc.create('Port', {
      network_id: w.mgmt.id,
      service_instance_id: w.vnf.id,
      interface_name: 'extra0',
    });
    const attached = await synced('Port', extra.id, 'the new port attached');
    expect(attached.backend_status).to.equal(
      `attached to pod ${w.ns}/${w.pod} as extra0 (${extra.ip as string}, ${extra.mac as string})`,
    );
    const second = await running(w, 'the replaced pod Running');
    expect(second.metadata?.uid).to.not.equal(first.metadata?.uid);
    const asked = JSON.parse(second.metadata?.annotations?.[NETWORKS] ?? '[]') as {
      interface: string;
    }[];
    expect(asked.map((a) => a.interface)).to.deep.equal(['mgmt0', 'net2', 'extra0']);

    await svc.delete('Port', extra.id);
    const third = await eventually(
      'the pod without the removed port',
      async () => {
        const p = await readPod(w.ns, w.pod);
        const n = JSON.parse(p?.metadata?.annotations?.[NETWORKS] ?? '[]') as unknown[];
        return p && !p.metadata?.deletionTimestamp && n.length === 2 ? p : undefined;
      },
      60_000,
    );
    expect(third.metadata?.uid).to.not.equal(second.metadata?.uid);
    await eventually('the port reaped', () =>
      get('Port', extra.id).then(
        () => undefined,
        (err: unknown) => (err instanceof NotFoundError ? true : undefined),
      ),
    );
  });

  it('records the apiserver refusing a pod (quota), keeps its ports waiting, then recovers', async () => {
    const w0 = uniqueName('k8s');
    // The trust domain first, so that the quota is in its namespace before the pod comes.
    const owner = await svc.create('VNFService', { name: `${w0}-svc` });
    const site = await svc.create('Site', { name: `${w0}-site` });
    const td = await svc.create('TrustDomain', { name: w0, owner_id: owner.id });
    await synced('TrustDomain', td.id);
    await core.createNamespacedResourceQuota({
      namespace: w0,
      body: { metadata: { name: 'small' }, spec: { hard: { 'limits.cpu': '1' } } },
    });
    await eventually('the quota counted by the controller-manager', async () => {
      const q = await core.readNamespacedResourceQuota({ name: 'small', namespace: w0 });
      return q.status?.hard ? q : undefined;
    });
    const slice = await svc.create('Slice', {
      name: `${w0}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
    });
    const image = await svc.create('Image', { name: `registry.example/${w0}`, tag: '1' });
    const flavor = await svc.create('Flavor', { name: `${w0}-big`, vcpus: 2, memory_mb: 64 });
    const net = await svc.create('Network', { name: `${w0}-net`, subnet: '10.73.0.0/24' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: `${w0}-vnf`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
      flavor_id: flavor.id,
    });
    const port = await svc.create('Port', { network_id: net.id, service_instance_id: vnf.id });

    const failed = await eventually(
      'the refusal recorded',
      async () => {
        const o = await get('VNFServiceInstance', vnf.id);
        return o.backend_code === 2 ? o : undefined;
      },
      60_000,
    );
    expect(failed.backend_status).to.match(
      new RegExp(
        `^error: Pod ${w0}/${w0}-vnf refused by the apiserver: exceeded quota: small, requested: limits\\.cpu=2`,
      ),
    );
    expect(failed.failures).to.be.at.least(1);
    expect(Date.parse(failed.next_attempt_at as string)).to.be.greaterThan(Date.now() - 5000);
    const waiting = await eventually('the port waiting on its instance', async () => {
      const p = await get('Port', port.id);
      return /^waiting for VNFServiceInstance/.test(p.backend_status as string) ? p : undefined;
    });
    expect(waiting.backend_code).to.equal(0);
    expect(waiting.backend_status).to.include('(error: Pod');
    expect(await readPod(w0, `${w0}-vnf`)).to.equal(undefined);

    // Room made: the next attempt (backoff) makes the pod, and the port follows.
    await core.deleteNamespacedResourceQuota({ name: 'small', namespace: w0 });
    await synced('VNFServiceInstance', vnf.id, 'the instance synced once the quota is gone');
    await synced('Port', port.id, 'the port attached');
  });

  it('fails a trust domain whose name cannot be a namespace, saying why', async () => {
    const owner = await svc.create('Service', { name: uniqueName('svc') });
    const td = await svc.create('TrustDomain', { name: 'Not_A_Label', owner_id: owner.id });
    const failed = await eventually('the error', async () => {
      const o = await get('TrustDomain', td.id);
      return o.backend_code === 2 ? o : undefined;
    });
    expect(failed.backend_status).to.equal(
      'error: TrustDomain Not_A_Label cannot name a namespace: a namespace name must be a DNS label (at most 63 lower-case letters, digits and "-", starting and ending alphanumeric)',
    );
    await svc.delete('TrustDomain', td.id);
  });

  it('deleting the trust domain removes the pods, NADs and namespace, and reaps the rows', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    await running(w);
    await svc.delete('TrustDomain', w.td.id);
    await gone(`pod ${w.pod}`, () => core.readNamespacedPod({ name: w.pod, namespace: w.ns }));
    await gone(`namespace ${w.ns}`, () => core.readNamespace({ name: w.ns }), 90_000);
    for (const [model, id] of [
      ['TrustDomain', w.td.id],
      ['Slice', w.slice.id],
      ['VNFServiceInstance', w.vnf.id],
      ['Port', w.ports[0]!.id],
      ['Port', w.ports[1]!.id],
    ] as const) {
      await eventually(`${model} ${String(id)} reaped`, () =>
        get(model, id).then(
          () => undefined,
          (err: unknown) => (err instanceof NotFoundError ? true : undefined),
        ),
      );
    }
  });

  it('removes the NADs of a namespace when its last pod goes', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    await svc.delete('VNFServiceInstance', w.vnf.id);
    await gone(`pod ${w.pod}`, () => core.readNamespacedPod({ name: w.pod, namespace: w.ns }));
    for (const net of [w.mgmt, w.data]) {
      await gone(`NAD ${net.name as string}`, () =>
        custom.getNamespacedCustomObject({ ...NAD, namespace: w.ns, name: net.name as string }),
      );
    }
    // The namespace stays: its trust domain is still there.
    await core.readNamespace({ name: w.ns });
  });

  it('runs Kubernetes and vSG instances as pods, with the slice principal as service account', async () => {
    const name = uniqueName('k8s');
    const owner = await svc.create('KubernetesService', { name: `${name}-svc` });
    const site = await svc.create('Site', { name: `${name}-site` });
    const td = await svc.create('TrustDomain', { name, owner_id: owner.id });
    const principal = await svc.create('Principal', {
      name: `${name}-sa`,
      trust_domain_id: td.id,
    });
    const slice = await svc.create('Slice', {
      name: `${name}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      principal_id: principal.id,
    });
    const image = await svc.create('Image', { name: `registry.example/${name}`, tag: '7' });
    const ksi = await svc.create('KubernetesServiceInstance', {
      name: `${name}-pod`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: image.id,
    });
    const vsgService = await svc.create('VSGService', {
      name: `${name}-vsg`,
      docker_image_name: 'registry.example/vsg:3',
    });
    const vsg = await svc.create('VSGServiceInstance', {
      name: `${name}-vsg`,
      owner_id: vsgService.id,
      slice_id: slice.id,
      s_tag: 100 + Math.floor(Math.random() * 3000),
      c_tag: 100 + Math.floor(Math.random() * 3000),
    });

    const sa = await synced('Principal', principal.id);
    // Created; or, when a pod asked for it first (queueing the principal again), in place.
    expect(sa.backend_status).to.be.oneOf([
      `created service account ${name}/${name}-sa`,
      `service account ${name}/${name}-sa is in place`,
    ]);
    await core.readNamespacedServiceAccount({ name: `${name}-sa`, namespace: name });
    for (const [model, obj, podName, img] of [
      ['KubernetesServiceInstance', ksi, `${name}-pod`, `${image.name as string}:7`],
      ['VSGServiceInstance', vsg, `${name}-vsg`, 'registry.example/vsg:3'],
    ] as const) {
      await synced(model, obj.id);
      const pod = await eventually(`${podName} Running`, async () => {
        const p = await readPod(name, podName);
        return p?.status?.phase === 'Running' ? p : undefined;
      });
      expect(pod.spec?.serviceAccountName).to.equal(`${name}-sa`);
      expect(pod.spec?.containers[0]?.image).to.equal(img);
      expect(pod.metadata?.annotations?.[NETWORKS]).to.equal(undefined);
      await eventually(`${model}'s feedback`, async () => {
        const o = await get(model, obj.id);
        return o.pod_phase === 'Running' && o.pod_ip === pod.status?.podIP ? o : undefined;
      });
    }

    // A level-triggered resync changes nothing and says so.
    await engine.resync();
    await eventually('the resync', async () => {
      const o = await get('KubernetesServiceInstance', ksi.id);
      return o.backend_status ===
        `pod ${name}/${name}-pod is up to date (${image.name as string}:7, no extra networks)`
        ? o
        : undefined;
    });
    // The trust domain's resync runs in parallel with the instances': awaited too.
    await eventually('the trust domain resynced', async () => {
      const o = await get('TrustDomain', td.id);
      return o.backend_status === `namespace ${name} is in place` ? o : undefined;
    });
  });

  it("runs a slice's pods in its Cluster, with that Cluster's kubeconfig; says when it is unusable", async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const first = await running(w);
    const cluster = await svc.create('Cluster', {
      name: `${w.ns}-edge`,
      kind: 'kubernetes',
      kubeconfig: readFileSync(env.KUBECONFIG, 'utf8'),
    });
    // The same apiserver under a Cluster of its own: the pod stays (same place, same spec).
    await svc.update('Slice', w.slice.id, { cluster_id: cluster.id });
    await engine.resync();
    // Synced again through the Cluster's handle: the pod found in place (a status write racing
    // the apply may make it "updated in place" rather than "up to date"), never replaced.
    const where = `${w.ns}/${w.pod}`;
    await eventually('the instance synced through the Cluster', async () => {
      const o = await get('VNFServiceInstance', w.vnf.id);
      const status = o.backend_status as string;
      return status === `pod ${where} is up to date (${w.image.name as string}:1.0, 2 networks)` ||
        status.startsWith(`updated pod ${where} in place`)
        ? o
        : undefined;
    });
    expect((await readPod(w.ns, w.pod))?.metadata?.uid).to.equal(first.metadata?.uid);

    // A kubeconfig that does not load: the trust domain (whose namespace goes in every cluster
    // of its slices) says so, and the pod waits for it.
    await svc.update('Cluster', cluster.id, { kubeconfig: 'clusters: [' });
    await engine.resync();
    const failed = await eventually('the error', async () => {
      const o = await get('TrustDomain', w.td.id);
      return o.backend_code === 2 ? o : undefined;
    });
    expect(failed.backend_status).to.match(
      new RegExp(`^error: Cluster ${w.ns}-edge: the kubeconfig given is not usable: `),
    );
    await svc.update('VNFServiceInstance', w.vnf.id, { config: { v: 2 } });
    await eventually('the instance waiting', async () => {
      const o = await get('VNFServiceInstance', w.vnf.id);
      return o.backend_status ===
        `waiting for TrustDomain ${w.ns} (${failed.backend_status as string})`
        ? o
        : undefined;
    });
    await svc.update('Cluster', cluster.id, { kubeconfig: readFileSync(env.KUBECONFIG, 'utf8') });
    await synced('TrustDomain', w.td.id, 'the trust domain synced again');
    await synced('VNFServiceInstance', w.vnf.id, 'the instance synced again');
  });

  it('sweeps NADs no pod uses and objects whose owner does not exist', async () => {
    const w = await world();
    await synced('VNFServiceInstance', w.vnf.id);
    const labels = (model: string, id: number) => ({
      'app.kubernetes.io/managed-by': 'syncord',
      'syncord.io/instance': instance,
      'syncord.io/model': model,
      'syncord.io/id': String(id),
    });
    await custom.createNamespacedCustomObject({
      ...NAD,
      namespace: w.ns,
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'stale', labels: labels('Network', w.mgmt.id) },
        spec: { config: '{}' },
      },
    });
    await core.createNamespacedConfigMap({
      namespace: w.ns,
      body: { metadata: { name: 'left-over', labels: labels('VNFServiceInstance', 987654321) } },
    });
    const lines = await set.observer.sweep();
    expect(lines).to.include(`removed NetworkAttachmentDefinition ${w.ns}/stale (no pod uses it)`);
    expect(lines).to.include(
      `removed ConfigMap ${w.ns}/left-over of the default cluster: its VNFServiceInstance 987654321 does not exist`,
    );
    await gone('the stale NAD', () =>
      custom.getNamespacedCustomObject({ ...NAD, namespace: w.ns, name: 'stale' }),
    );
    // The NADs the pod uses stay.
    await custom.getNamespacedCustomObject({
      ...NAD,
      namespace: w.ns,
      name: w.mgmt.name as string,
    });
  });

  it('removes a pod carrying its labels for an object that does not exist', async () => {
    const ns = uniqueName('k8s-orphan');
    await core.createNamespace({
      body: { metadata: { name: ns, labels: { 'syncord.io/instance': instance } } },
    });
    await eventually(`the default ServiceAccount in ${ns}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: 'orphan',
          labels: {
            'app.kubernetes.io/managed-by': 'syncord',
            'syncord.io/instance': instance,
            'syncord.io/model': 'VNFServiceInstance',
            'syncord.io/id': '987654321',
          },
        },
        spec: { containers: [{ name: 'main', image: 'registry.example/orphan:1' }] },
      },
    });
    await gone('the orphan pod', () => core.readNamespacedPod({ name: 'orphan', namespace: ns }));
    // The observer logs once it has also removed the pod's ConfigMaps, just after the pod.
    await eventually('the removal logged', () =>
      Promise.resolve(log.some((l) => l.includes(`removed pod ${ns}/orphan`)) || undefined),
    );
    await core.deleteNamespace({ name: ns });
  });
});
