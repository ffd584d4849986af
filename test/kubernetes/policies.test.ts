// Management and deletion policies with the real Kubernetes steps in a real engine, against the
// rig's kube-apiserver (kwok nodes run the pods). `observe`: a namespace, service account, pod
// and KubeVirt VM made out of band are read into status, every 500 ms, and never written;
// deleting their models leaves them. `orphan`: what Syncord made keeps everything but Syncord's
// owner labels and annotations, and the observer's sweep and a resync leave it alone.
// `create-only`: an edit is not carried to the pod.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { NotFoundError } from '../../models/errors.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { kubernetesStepSet, type KubernetesSteps } from '../../steps/kubernetes/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { vnfTenant } from '../support/kube-steps.js';
import { eventually, kubeConfig, rig, sleep, uniqueName } from '../support/rig.js';

const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };
const VM = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' };
const OWNER_LABELS = [
  'app.kubernetes.io/managed-by',
  'syncord.io/instance',
  'syncord.io/model',
  'syncord.io/id',
];
const SPEC_HASH = 'syncord.io/spec-hash';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const STRATEGIC = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

type Obj = { metadata?: k8s.V1ObjectMeta } & Record<string, unknown>;

/** The map without Syncord's keys. */
const without = (map: Record<string, string> | undefined, keys: readonly string[]) =>
  Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !keys.includes(k)));

/** The object as compared before and after: everything but the bookkeeping that always moves. */
const comparable = (
  o: Obj,
  drop: { labels?: readonly string[]; annotations?: readonly string[] } = {},
) => {
  const rest: Record<string, unknown> = { ...o };
  delete rest.status;
  const meta = JSON.parse(JSON.stringify(o.metadata ?? {})) as Record<string, unknown>;
  delete meta.managedFields;
  delete meta.resourceVersion;
  return {
    ...rest,
    metadata: {
      ...meta,
      labels: without(o.metadata?.labels, drop.labels ?? []),
      annotations: without(o.metadata?.annotations, drop.annotations ?? []),
    } as Record<string, unknown>,
  };
};

/** Whether Syncord's field manager ever wrote the object. */
const writtenBySyncord = (o: Obj) =>
  (o.metadata?.managedFields ?? []).some((f) => f.manager === 'syncord');

describe('kubernetes: management and deletion policies against the rig', function () {
  this.timeout(180_000);
  const instance = uniqueName('policies');
  const log: string[] = [];
  let db: ScratchDb;
  let svc: ModelService;
  let set: KubernetesSteps;
  let engine: Engine;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  const namespaces: string[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    const env = await rig();
    db = await scratchDb();
    svc = db.service;
    const kc = kubeConfig(env);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    set = kubernetesStepSet({ instance, sweepMs: 0, log: (l) => log.push(l) });
    engine = await startTestEngine(db, set.steps, log);
  });
  after(async function () {
    this.timeout(60_000);
    await engine.stop();
    // This run's namespaces go, released or made by hand ones included.
    for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await db.drop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  const get = (model: string, id: number) => svc.get(model, id, { includeDeleted: true });
  const status = (o: ModelObject, what: string, test: (o: ModelObject) => boolean, ms = 60_000) =>
    eventually(
      `${o.leaf_model} ${String(o.id)} ${what}`,
      async () => {
        const now = await get(o.leaf_model, o.id);
        return test(now) ? now : undefined;
      },
      ms,
    ).catch(async (err: unknown) => {
      const now = await get(o.leaf_model, o.id).catch(() => undefined);
      throw new Error(
        `${(err as Error).message}; it says ${String(now?.backend_code)}: ${String(now?.backend_status)}`,
        { cause: err },
      );
    });
  const observed = (o: ModelObject, text: string) =>
    status(o, `observed as "${text}"`, (n) => n.backend_code === 1 && n.backend_status === text);
  const synced = (o: ModelObject) =>
    status(o, 'synced', (n) => n.backend_code === 1 && n.synced_version === n.version);
  const reaped = (model: string, id: number) =>
    eventually(`${model} ${String(id)} reaped`, () =>
      get(model, id).then(
        () => undefined,
        (err: unknown) => (err instanceof NotFoundError ? true : undefined),
      ),
    );

  const readNs = async (name: string) => (await core.readNamespace({ name })) as Obj;
  const readSa = async (ns: string, name: string) =>
    (await core.readNamespacedServiceAccount({ namespace: ns, name })) as Obj;
  const readPod = async (ns: string, name: string) =>
    (await core.readNamespacedPod({ namespace: ns, name })) as k8s.V1Pod & Obj;
  const readCm = async (ns: string, name: string) =>
    (await core.readNamespacedConfigMap({ namespace: ns, name })) as Obj;
  const readNad = async (ns: string, name: string) =>
    (await custom.getNamespacedCustomObject({ ...NAD, namespace: ns, name })) as Obj;
  const readVm = async (ns: string, name: string) =>
    (await custom.getNamespacedCustomObject({ ...VM, namespace: ns, name })) as Obj & {
      spec: { template: { metadata?: { labels?: Record<string, string> } } };
    };
  const running = (ns: string, name: string) =>
    eventually(`pod ${ns}/${name} Running`, async () => {
      const p = await readPod(ns, name);
      return p.status?.phase === 'Running' ? p : undefined;
    });

  /** A namespace made by hand (with its default service account in place). */
  async function handMadeNamespace(name: string, labels: Record<string, string>) {
    namespaces.push(name);
    await core.createNamespace({ body: { metadata: { name, labels } } });
    await eventually(`the default ServiceAccount in ${name}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
    );
  }

  /** A tenant whose models name what is in the cluster: service, site, trust domain, slice. */
  async function tenant(name: string, policy: Record<string, string>, principalName?: string) {
    const owner = await svc.create('VNFService', { name: `${name}-svc`, vendor: 'acme' });
    const site = await svc.create('Site', { name: `${name}-site` });
    const td = await svc.create('TrustDomain', { name, owner_id: owner.id, ...policy });
    const principal = principalName
      ? await svc.create('Principal', { name: principalName, trust_domain_id: td.id, ...policy })
      : undefined;
    const slice = await svc.create('Slice', {
      name: `${name}-slice`,
      site_id: site.id,
      trust_domain_id: td.id,
      ...(principal ? { principal_id: principal.id } : {}),
    });
    return { owner, td, principal, slice };
  }

  it('observe: reads a namespace, service account and pod made out of band into status, never writes them, and leaves them when the models go', async () => {
    const ns = uniqueName('obs');
    await handMadeNamespace(ns, { team: 'red' });
    await core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'alice', labels: { tier: 'gold' } } },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: `${ns}-vnf`, labels: { app: 'fw' } },
        spec: {
          serviceAccountName: 'alice',
          containers: [{ name: 'main', image: `registry.example/${ns}/vnf:1.0` }],
        },
      },
    });
    const pod0 = await running(ns, `${ns}-vnf`);

    const t = await tenant(ns, { management_policy: 'observe' }, 'alice');
    const image = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '1.0' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: `${ns}-vnf`,
      owner_id: t.owner.id,
      slice_id: t.slice.id,
      image_id: image.id,
      management_policy: 'observe',
    });
    await observed(t.td, `observed: Namespace ${ns}: Active, labels team=red`);
    await observed(
      t.principal!,
      `observed: ServiceAccount ${ns}/alice: no image pull secret, labels tier=gold`,
    );
    const si = await observed(
      vnf,
      `observed: Pod ${ns}/${ns}-vnf: Running, on ${String(pod0.spec?.nodeName)}, registry.example/${ns}/vnf:1.0, no extra networks`,
    );
    // The pod's feedback, as the observer writes it for Syncord's own pods.
    expect([si.pod_phase, si.node_name, si.pod_ip]).to.deep.equal([
      'Running',
      pod0.spec?.nodeName,
      pod0.status?.podIP,
    ]);

    // Changed out of band: the status follows.
    await core.patchNamespace(
      { name: ns, body: { metadata: { labels: { team: 'blue' } } } },
      MERGE,
    );
    await core.patchNamespacedServiceAccount(
      { namespace: ns, name: 'alice', body: { imagePullSecrets: [{ name: 'regcred' }] } },
      MERGE,
    );
    await core.patchNamespacedPod(
      {
        namespace: ns,
        name: `${ns}-vnf`,
        body: {
          spec: { containers: [{ name: 'main', image: `registry.example/${ns}/vnf:2.0` }] },
        },
      },
      STRATEGIC,
    );
    await observed(t.td, `observed: Namespace ${ns}: Active, labels team=blue`);
    await observed(
      t.principal!,
      `observed: ServiceAccount ${ns}/alice: image pull secrets regcred, labels tier=gold`,
    );
    await observed(
      vnf,
      `observed: Pod ${ns}/${ns}-vnf: Running, on ${String(pod0.spec?.nodeName)}, registry.example/${ns}/vnf:2.0, no extra networks; differs from the model: image registry.example/${ns}/vnf:2.0 (model registry.example/${ns}/vnf:1.0)`,
    );

    // Many observe rounds later, nothing was written: same resourceVersions, no Syncord manager.
    const before = {
      ns: await readNs(ns),
      sa: await readSa(ns, 'alice'),
      pod: await readPod(ns, `${ns}-vnf`),
    };
    await sleep(3000);
    const after = {
      ns: await readNs(ns),
      sa: await readSa(ns, 'alice'),
      pod: await readPod(ns, `${ns}-vnf`),
    };
    for (const k of ['ns', 'sa', 'pod'] as const) {
      expect(after[k].metadata?.resourceVersion, `${k} resourceVersion`).to.equal(
        before[k].metadata?.resourceVersion,
      );
      expect(writtenBySyncord(after[k]), `${k} written by Syncord`).to.equal(false);
    }

    // The models go (the trust domain takes its slice with it): the rows are reaped, the
    // objects stay as they were.
    await svc.delete('VNFServiceInstance', vnf.id);
    await svc.delete('Principal', t.principal!.id);
    await svc.delete('TrustDomain', t.td.id);
    for (const o of [vnf, t.principal!, t.slice, t.td]) await reaped(o.leaf_model, o.id);
    await set.observer.sweep();
    await engine.resync();
    await sleep(1000);
    expect((await readNs(ns)).metadata?.resourceVersion).to.equal(
      before.ns.metadata?.resourceVersion,
    );
    expect((await readSa(ns, 'alice')).metadata?.resourceVersion).to.equal(
      before.sa.metadata?.resourceVersion,
    );
    const podAfter = await readPod(ns, `${ns}-vnf`);
    expect(podAfter.metadata?.uid).to.equal(pod0.metadata?.uid);
    expect(podAfter.metadata?.resourceVersion).to.equal(before.pod.metadata?.resourceVersion);
  });

  it('observe: a missing namespace, service account or pod is an error naming it', async () => {
    const ns = uniqueName('obs-missing');
    const t = await tenant(ns, { management_policy: 'observe' }, 'bob');
    const image = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '1.0' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: `${ns}-vnf`,
      owner_id: t.owner.id,
      slice_id: t.slice.id,
      image_id: image.id,
      management_policy: 'observe',
    });
    const failed = (o: ModelObject, text: string) =>
      status(o, `failed with "${text}"`, (n) => n.backend_code === 2 && n.backend_status === text);
    await failed(t.td, `error: observe: Namespace ${ns} is not there`);
    await failed(t.principal!, `error: observe: ServiceAccount ${ns}/bob is not there`);
    await failed(vnf, `error: observe: Pod ${ns}/${ns}-vnf is not there`);
    // Observing made nothing.
    const made = await core.readNamespace({ name: ns }).catch((err: unknown) => err);
    expect((made as { code?: number }).code).to.equal(404);
    // Once the namespace is there (by hand), the trust domain reads it.
    await handMadeNamespace(ns, {});
    await observed(t.td, `observed: Namespace ${ns}: Active`);
  });

  it('orphan: a deleted trust domain leaves its namespace, service account, pod, ConfigMap and NADs, less Syncord marks; the sweep and a resync leave them alone', async () => {
    const ns = uniqueName('orphan');
    namespaces.push(ns);
    const { owner, td, slice, networks } = await vnfTenant(svc, ns, [
      { suffix: 'mgmt', subnet: '10.73.0.0/24', provider: 'ovn' },
      { suffix: 'data', subnet: '10.74.0.0/24', provider: 'flannel' },
    ]);
    const principal = await svc.create('Principal', { name: 'carol', trust_domain_id: td.id });
    await svc.update('Slice', slice.id, { principal_id: principal.id });
    const image = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '1.0' });
    const { vnf, ports } = await svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${ns}-vnf`,
        owner_id: owner.id,
        slice_id: slice.id,
        image_id: image.id,
        config: { mode: 'router' },
      });
      const ports = [];
      for (const n of networks) {
        ports.push(await tx.create('Port', { network_id: n.id, service_instance_id: vnf.id }));
      }
      return { vnf, ports };
    });
    await synced(vnf);
    for (const p of ports) await synced(p);
    await running(ns, `${ns}-vnf`);
    // Someone else's label and annotation on the pod, which must stay.
    await core.patchNamespacedPod(
      {
        namespace: ns,
        name: `${ns}-vnf`,
        body: { metadata: { labels: { team: 'red' }, annotations: { note: 'keep me' } } },
      },
      MERGE,
    );
    const nadNames = networks.map((n) => n.name as string);
    const before = {
      ns: await readNs(ns),
      sa: await readSa(ns, 'carol'),
      pod: await readPod(ns, `${ns}-vnf`),
      cm: await readCm(ns, `${ns}-vnf-config`),
      nads: await Promise.all(nadNames.map((n) => readNad(ns, n))),
    };
    expect(before.pod.metadata?.labels?.['syncord.io/id']).to.equal(String(vnf.id));

    // Orphan set by an edit, then the delete: it cascades, orphaning the rest.
    await svc.update('TrustDomain', td.id, { deletion_policy: 'orphan' });
    await svc.delete('TrustDomain', td.id);
    for (const o of [vnf, ...ports, slice, td]) await reaped(o.leaf_model, o.id);
    // The principal is not a dependent of the trust domain's delete everywhere: orphan it too.
    const p = await get('Principal', principal.id).catch(() => undefined);
    if (p) {
      await svc.update('Principal', principal.id, { deletion_policy: 'orphan' });
      await svc.delete('Principal', principal.id);
      await reaped('Principal', principal.id);
    }

    const check = async (when: string) => {
      const now = {
        ns: await readNs(ns),
        sa: await readSa(ns, 'carol'),
        pod: await readPod(ns, `${ns}-vnf`),
        cm: await readCm(ns, `${ns}-vnf-config`),
      };
      for (const [k, drop] of [
        ['ns', { labels: OWNER_LABELS }],
        ['sa', { labels: OWNER_LABELS }],
        ['pod', { labels: OWNER_LABELS, annotations: [SPEC_HASH] }],
        ['cm', { labels: OWNER_LABELS }],
      ] as const) {
        const o = now[k];
        for (const l of OWNER_LABELS) {
          expect(o.metadata?.labels ?? {}, `${k} ${when}`).to.not.have.property(l);
        }
        expect(o.metadata?.annotations ?? {}, `${k} ${when}`).to.not.have.property(SPEC_HASH);
        expect(comparable(o), `${k} ${when}: all but the marks`).to.deep.equal(
          comparable(before[k], drop),
        );
      }
      // The NADs are the Networks' (which are still there) and stay as they were.
      for (const [i, n] of nadNames.entries()) {
        const nad = await readNad(ns, n);
        expect(nad.metadata?.resourceVersion, `NAD ${n} ${when}`).to.equal(
          before.nads[i]!.metadata?.resourceVersion,
        );
      }
      return now;
    };
    const released = await check('after the release');
    expect(released.pod.metadata?.labels?.team).to.equal('red');
    expect(released.pod.metadata?.annotations?.note).to.equal('keep me');

    // The sweep (unused NADs, objects whose owner is gone) and a resync change nothing.
    const lines = await set.observer.sweep();
    expect(lines.filter((l) => l.includes(ns))).to.deep.equal([]);
    await engine.resync();
    await sleep(2000);
    const later = await check('after the sweep and a resync');
    for (const k of ['ns', 'sa', 'pod', 'cm'] as const) {
      expect(later[k].metadata?.resourceVersion, k).to.equal(released[k].metadata?.resourceVersion);
    }
    expect(log.filter((l) => l.includes(`removed pod ${ns}/`))).to.deep.equal([]);
  });

  it('create-only: the pod is made once; an edit of its image is not carried to it', async () => {
    const ns = uniqueName('once');
    namespaces.push(ns);
    const t = await tenant(ns, {});
    const image = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '1.0' });
    const vnf = await svc.create('VNFServiceInstance', {
      name: `${ns}-vnf`,
      owner_id: t.owner.id,
      slice_id: t.slice.id,
      image_id: image.id,
      management_policy: 'create-only',
    });
    const made = await synced(vnf);
    const pod = await running(ns, `${ns}-vnf`);
    const image2 = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '2.0' });
    const edited = await svc.update('VNFServiceInstance', vnf.id, { image_id: image2.id });
    await status(
      edited,
      'not applied',
      (n) =>
        n.backend_code === 1 &&
        n.backend_status ===
          `create-only: created at version ${String(made.synced_version)}; version ${String(edited.version)} is not applied`,
    );
    await engine.resync();
    await sleep(2000);
    const now = await readPod(ns, `${ns}-vnf`);
    expect(now.metadata?.uid).to.equal(pod.metadata?.uid);
    expect(now.spec?.containers[0]?.image).to.equal(`registry.example/${ns}/vnf:1.0`);
  });

  it('orphan and observe of a KubeVirt VM: released with its template, kept with its NADs by the sweep, then read by an observing model', async () => {
    const ns = uniqueName('vmpol');
    namespaces.push(ns);
    const { owner, slice, networks } = await vnfTenant(svc, ns, [
      { suffix: 'access', subnet: '10.83.0.0/24', provider: 'ovn' },
    ]);
    const img = await svc.create('Image', {
      name: `quay.example/${ns}/fw-disk`,
      tag: '2.1',
      kind: 'vm',
    });
    const flavor = await svc.create('Flavor', { name: `${ns}-small`, vcpus: 2, memory_mb: 512 });
    const { vnf, port } = await svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${ns}-fw`,
        owner_id: owner.id,
        slice_id: slice.id,
        image_id: img.id,
        flavor_id: flavor.id,
        workload: 'vm',
        deletion_policy: 'orphan',
      });
      const port = await tx.create('Port', {
        network_id: networks[0]!.id,
        service_instance_id: vnf.id,
        interface_name: 'eth1',
      });
      return { vnf, port };
    });
    await synced(vnf);
    const before = await readVm(ns, `${ns}-fw`);
    expect(before.spec.template.metadata?.labels?.['syncord.io/id']).to.equal(String(vnf.id));
    const nad = await readNad(ns, networks[0]!.name as string);

    await svc.delete('VNFServiceInstance', vnf.id);
    await reaped('VNFServiceInstance', vnf.id);
    await reaped('Port', port.id);
    const released = await readVm(ns, `${ns}-fw`);
    expect(released.metadata?.uid).to.equal(before.metadata?.uid);
    for (const l of OWNER_LABELS) {
      expect(released.metadata?.labels ?? {}).to.not.have.property(l);
      expect(released.spec.template.metadata?.labels ?? {}).to.not.have.property(l);
    }
    expect(released.metadata?.annotations ?? {}).to.not.have.property(SPEC_HASH);
    const strip = (vm: typeof before) => {
      const c = comparable(vm, { labels: OWNER_LABELS, annotations: [SPEC_HASH] });
      const spec = (c as Record<string, unknown>).spec as {
        template: { metadata?: { labels?: Record<string, string> } };
      };
      const labels = without(spec.template.metadata?.labels, OWNER_LABELS);
      // The template's labels are spec: its generation moves on with them.
      const metadata = { ...c.metadata };
      delete metadata.generation;
      return {
        ...c,
        metadata,
        spec: { ...spec, template: { ...spec.template, metadata: { labels } } },
      };
    };
    expect(strip(released)).to.deep.equal(strip(before));

    // The sweep keeps the NAD the released VM uses.
    await set.observer.sweep();
    await engine.resync();
    await sleep(1000);
    expect((await readNad(ns, networks[0]!.name as string)).metadata?.resourceVersion).to.equal(
      nad.metadata?.resourceVersion,
    );
    expect((await readVm(ns, `${ns}-fw`)).metadata?.resourceVersion).to.equal(
      released.metadata?.resourceVersion,
    );

    // A model observing that VM (and naming no port) reads it, and says where they differ.
    const watcher = await svc.create('VNFServiceInstance', {
      name: `${ns}-fw`,
      owner_id: owner.id,
      slice_id: slice.id,
      image_id: img.id,
      workload: 'vm',
      management_policy: 'observe',
    });
    await observed(
      watcher,
      `observed: VirtualMachine ${ns}/${ns}-fw: no status yet, quay.example/${ns}/fw-disk:2.1, 2 cores, 512Mi, 1 interface; differs from the model: memory 512Mi (model 128Mi), interface eth1 (not in the model)`,
    );
    await sleep(1500);
    expect((await readVm(ns, `${ns}-fw`)).metadata?.resourceVersion).to.equal(
      released.metadata?.resourceVersion,
    );
  });
});
