// Adoption from Kubernetes against the rig's kube-apiserver (kwok nodes run the pods), in-process:
// the source's candidates (discoverAll), adopt() in one transaction, then the real Kubernetes
// steps in an Engine. A namespace and pods made out of band are listed with the models they would
// become (a TrustDomain, KubernetesServiceInstances, with the Slice and Image they need) and why
// some cannot be adopted (two containers, another container name, Multus interfaces, an
// environment); listing writes nothing. A candidate with a problem, or one adopted already, is
// refused naming it, and nothing is adopted. Adopted, the engine converges and the objects are
// unchanged but for Syncord's owner labels and the pod's spec hash (the same pods: not
// replaced); a pod in a namespace that is a TrustDomain of Syncord's already joins its slice.
// Deleting the adopted models tears the pods and the namespace down by their handle names.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { ownerLabels } from '../../backends/kubernetes/index.js';
import type { ModelObject, ModelService } from '../../models/service.js';
import { kubernetesStepSet, type KubernetesSteps } from '../../steps/kubernetes/index.js';
import { adopt, AdoptError, discoverAll, type AdoptCandidate } from '../../synchronizer/adopt.js';
import { Engine } from '../../synchronizer/engine.js';
import { startTestEngine } from '../support/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { comparable, OWNER_LABELS, type KubeObj as Obj } from '../support/kube-compare.js';
import { eventually, kubeConfig, rig, sleep, uniqueName } from '../support/rig.js';

const SPEC_HASH = 'syncord.io/spec-hash';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';

describe('kubernetes: adoption of namespaces and pods made out of band', function () {
  this.timeout(180_000);
  const instance = uniqueName('k8sadopt');
  const run = uniqueName('adopt');
  const ns = run;
  const nsB = `${run}-b`;
  // A pod name that is no DNS label: the instance's own naming would call it pod-<id>, so the
  // steps find it only through the handle.
  const web = `${run}-web.v1`;
  const api = `${run}-api`;
  // Adopted, then marked by another Syncord deployment before the engine runs.
  const stolen = `${run}-stolen`;
  const log: string[] = [];
  let db: ScratchDb;
  let svc: ModelService;
  let set: KubernetesSteps;
  let engine: Engine | undefined;
  let core: k8s.CoreV1Api;
  let service: ModelObject;
  let tdB: ModelObject;
  let sliceB: ModelObject;
  const snap: Record<string, Obj & { status?: { podIP?: string } }> = {};

  const readNs = async (name: string) => (await core.readNamespace({ name })) as Obj;
  const readPod = async (namespace: string, name: string) =>
    (await core.readNamespacedPod({ namespace, name })) as k8s.V1Pod & Obj;
  const pod = (
    namespace: string,
    name: string,
    spec: Partial<k8s.V1PodSpec> = {},
    meta: Partial<k8s.V1ObjectMeta> = {},
  ) =>
    core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, labels: { app: 'adopt-test' }, ...meta },
        spec: {
          containers: [{ name: 'main', image: `registry.example/${run}/web:1.0` }],
          ...spec,
        },
      },
    });
  const running = (namespace: string, name: string) =>
    eventually(`pod ${namespace}/${name} Running`, async () => {
      const p = await readPod(namespace, name);
      return p.status?.phase === 'Running' ? p : undefined;
    });
  const discover = async () => {
    const { candidates, failures } = await discoverAll(svc, [set.source], {});
    expect(failures).to.deep.equal([]);
    return new Map(candidates.map((c) => [c.key, c]));
  };
  const adoptedCount = async () =>
    (
      await db.sql.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM trust_domain WHERE backend_handle IS NOT NULL)
              + (SELECT count(*) FROM service_instance WHERE backend_handle IS NOT NULL)
              + (SELECT count(*) FROM slice WHERE backend_handle IS NOT NULL)
              + (SELECT count(*) FROM image WHERE backend_handle IS NOT NULL) AS n`,
      )
    ).rows[0]!.n;
  const keys = {
    ns: `kubernetes/Namespace/${ns}`,
    slice: `kubernetes/Slice/${ns}/${ns}-slice`,
    image: `kubernetes/Image/registry.example/${run}/web:1.0`,
    web: `kubernetes/Pod/${ns}/${web}`,
    api: `kubernetes/Pod/${nsB}/${api}`,
    stolen: `kubernetes/Pod/${ns}/${stolen}`,
  };
  let good: AdoptCandidate[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    const env = await rig();
    db = await scratchDb();
    svc = db.service;
    core = kubeConfig(env).makeApiClient(k8s.CoreV1Api);
    set = kubernetesStepSet({ instance, sweepMs: 0, log: (l) => log.push(l) });
    // A namespace made by hand, with pods Syncord could have made, and some it could not.
    await core.createNamespace({ body: { metadata: { name: ns, labels: { team: 'red' } } } });
    await eventually(`the default ServiceAccount in ${ns}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    await pod(ns, web);
    await pod(ns, stolen);
    await pod(ns, 'two', {
      containers: [
        { name: 'main', image: `registry.example/${run}/web:1.0` },
        { name: 'side', image: `registry.example/${run}/side:1.0` },
      ],
    });
    await pod(ns, 'named', { containers: [{ name: 'app', image: 'registry.example/x:1' }] });
    await pod(ns, 'multus', {}, { annotations: { [NETWORKS]: 'other-net' } });
    await pod(ns, 'envy', {
      containers: [
        { name: 'main', image: 'registry.example/x:1', env: [{ name: 'A', value: 'b' }] },
      ],
    });
    // A trust domain of Syncord's (its namespace carries its labels) with a slice, and a pod
    // made by hand in it.
    service = await svc.create('VNFService', { name: `${run}-vnf`, vendor: 'acme' });
    const site = await svc.create('Site', { name: `${run}-site` });
    tdB = await svc.create('TrustDomain', { name: nsB, owner_id: service.id });
    sliceB = await svc.create('Slice', {
      name: `${nsB}-slice`,
      site_id: site.id,
      trust_domain_id: tdB.id,
    });
    await core.createNamespace({
      body: {
        metadata: {
          name: nsB,
          labels: ownerLabels(instance, { model: 'TrustDomain', id: tdB.id }),
        },
      },
    });
    await eventually(`the default ServiceAccount in ${nsB}`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: nsB }),
    );
    await pod(nsB, api, {
      containers: [{ name: 'main', image: `registry.example/${run}/api:2.1` }],
    });
    await running(ns, web);
    await running(nsB, api);
    snap.ns = await readNs(ns);
    snap.nsB = await readNs(nsB);
    snap.web = await readPod(ns, web);
    snap.api = await readPod(nsB, api);
  });
  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
    for (const n of [ns, nsB]) await core.deleteNamespace({ name: n }).catch(() => undefined);
    await db.drop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  it('lists the namespace and pods with the models they would become, and writes nothing', async () => {
    // No KubernetesService yet: the trust domain would have no owner.
    const unowned = await discover();
    expect(unowned.get(keys.ns)?.problem).to.equal(
      'a KubernetesService must exist first (it owns the trust domain and the instances)',
    );
    expect(unowned.get(keys.web)?.problem).to.equal(
      'a KubernetesService must exist first (it owns the trust domain and the instances)',
    );

    service = await svc.create('KubernetesService', { name: `${run}-k8s` });
    const site = (await svc.list('Site', { orderBy: [{ field: 'id' }], pageSize: 1 })).items[0]!;
    const found = await discover();
    const shape = (c: AdoptCandidate | undefined) =>
      c && {
        model: c.model,
        kind: c.kind,
        name: c.name,
        values: c.values,
        refs: c.refs,
        handle: c.handle,
        problem: c.problem,
      };
    expect(shape(found.get(keys.ns))).to.deep.equal({
      model: 'TrustDomain',
      kind: 'Namespace',
      name: ns,
      values: { name: ns, owner_id: service.id },
      refs: undefined,
      handle: { 'kubernetes/Namespace': ns },
      problem: undefined,
    });
    expect(found.get(keys.ns)?.detail).to.equal(`namespace ${ns}: Active, labels team=red`);
    expect(shape(found.get(keys.slice))).to.deep.equal({
      model: 'Slice',
      kind: 'Slice',
      name: `${ns}-slice`,
      values: { name: `${ns}-slice`, site_id: site.id, service_id: service.id },
      refs: { trust_domain_id: keys.ns },
      handle: {},
      problem: undefined,
    });
    expect(shape(found.get(keys.image))).to.deep.equal({
      model: 'Image',
      kind: 'Image',
      name: `registry.example/${run}/web:1.0`,
      values: { name: `registry.example/${run}/web`, tag: '1.0', kind: 'container' },
      refs: undefined,
      handle: {},
      problem: undefined,
    });
    expect(shape(found.get(keys.web))).to.deep.equal({
      model: 'KubernetesServiceInstance',
      kind: 'Pod',
      name: web,
      values: { name: web, owner_id: service.id },
      refs: { image_id: keys.image, slice_id: keys.slice },
      handle: { 'kubernetes/Pod': `${ns}/${web}` },
      problem: undefined,
    });
    expect(found.get(keys.web)?.detail).to.match(
      new RegExp(
        `^pod ${ns}/${web}: Running on \\S+, registry.example/${run}/web:1.0, labels app=adopt-test$`,
      ),
    );
    // In the namespace of a trust domain of Syncord's: its slice; a new image.
    expect(shape(found.get(keys.api))).to.deep.equal({
      model: 'KubernetesServiceInstance',
      kind: 'Pod',
      name: api,
      values: { name: api, owner_id: service.id, slice_id: sliceB.id },
      refs: { image_id: `kubernetes/Image/registry.example/${run}/api:2.1` },
      handle: { 'kubernetes/Pod': `${nsB}/${api}` },
      problem: undefined,
    });
    // That namespace is Syncord's: not a candidate.
    expect(found.has(`kubernetes/Namespace/${nsB}`)).to.equal(false);
    // What cannot be adopted, and why.
    const problem = (name: string) => found.get(`kubernetes/Pod/${ns}/${name}`)?.problem;
    expect(problem('two')).to.equal("its spec has 2 containers: Syncord's pods have one");
    expect(problem('named')).to.equal(
      "its container is named app: Syncord's pods' container is main",
    );
    expect(problem('multus')).to.equal(
      "its interface other-net: it does not ask for its interface name, one address with its prefix and a MAC, as Syncord's pods do; its NAD other-net is neither a Network's nor one to adopt",
    );
    expect(problem('envy')).to.equal("its container sets env: Syncord's pods' does not");

    // Listing wrote nothing, anywhere.
    expect(await adoptedCount()).to.equal('0');
    expect((await readNs(ns)).metadata?.resourceVersion).to.equal(
      snap.ns!.metadata?.resourceVersion,
    );
    expect((await readPod(ns, web)).metadata?.resourceVersion).to.equal(
      snap.web!.metadata?.resourceVersion,
    );
    good = [
      keys.ns,
      keys.slice,
      keys.image,
      keys.web,
      keys.api,
      keys.stolen,
      `kubernetes/Image/registry.example/${run}/api:2.1`,
    ].map((k) => found.get(k)!);
  });

  it('refuses a candidate that cannot be adopted, naming it; nothing adopted', async () => {
    const found = await discover();
    const two = found.get(`kubernetes/Pod/${ns}/two`)!;
    const err = await adopt(svc, [...good, two]).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AdoptError);
    expect((err as AdoptError).message).to.equal(
      `kubernetes/Pod/${ns}/two: its spec has 2 containers: Syncord's pods have one`,
    );
    // Without what it refers to, a pod is refused too.
    const alone = await adopt(svc, [found.get(keys.web)!]).catch((e: unknown) => e);
    expect((alone as AdoptError).message).to.match(
      new RegExp(`^${keys.web.replace(/\./g, '\\.')}: image_id refers to`),
    );
    expect(await adoptedCount()).to.equal('0');
  });

  it('adopts the namespace and pods, with their slice and image, in one transaction', async () => {
    const made = await adopt(svc, good);
    expect(made.map((m) => `${m.model} ${String(m.name)}`).sort()).to.deep.equal(
      [
        `Image registry.example/${run}/api`,
        `Image registry.example/${run}/web`,
        `KubernetesServiceInstance ${api}`,
        `KubernetesServiceInstance ${stolen}`,
        `KubernetesServiceInstance ${web}`,
        `Slice ${ns}-slice`,
        `TrustDomain ${ns}`,
      ].sort(),
    );
    const id = (key: string) => made.find((m) => m.key === key)!.id;
    const td = await svc.get('TrustDomain', id(keys.ns));
    expect([td.name, td.owner_id, td.backend_handle]).to.deep.equal([
      ns,
      service.id,
      { 'kubernetes/Namespace': ns },
    ]);
    const slice = await svc.get('Slice', id(keys.slice));
    expect([slice.trust_domain_id, slice.service_id]).to.deep.equal([td.id, service.id]);
    const si = await svc.get('KubernetesServiceInstance', id(keys.web));
    expect([si.slice_id, si.image_id, si.owner_id, si.backend_handle]).to.deep.equal([
      slice.id,
      id(keys.image),
      service.id,
      { 'kubernetes/Pod': `${ns}/${web}` },
    ]);
    const siB = await svc.get('KubernetesServiceInstance', id(keys.api));
    expect(siB.slice_id).to.equal(sliceB.id);

    // Adopted already: listed so, and refused again; nothing more adopted.
    const again = await discover();
    expect(again.get(keys.web)?.problem).to.equal(
      `adopted already as KubernetesServiceInstance ${String(si.id)}`,
    );
    // The namespace is a TrustDomain's now: no candidate.
    expect(again.has(keys.ns)).to.equal(false);
    const count = await adoptedCount();
    const refused = await adopt(svc, [again.get(keys.web)!]).catch((e: unknown) => e);
    expect((refused as AdoptError).message).to.equal(
      `${keys.web}: adopted already as KubernetesServiceInstance ${String(si.id)}`,
    );
    // The candidates as first listed: refused at the namespace, nothing more adopted.
    const twice = await adopt(svc, good).catch((e: unknown) => e);
    expect((twice as AdoptError).message).to.equal(
      `${keys.ns}: adopted already as TrustDomain ${String(td.id)}`,
    );
    expect(await adoptedCount()).to.equal(count);
  });

  it('converges with no change to the namespace and pods but Syncord marks', async () => {
    // The trust domain renamed: its namespace is still the one it was made from.
    const adoptedTd = (await svc.list('TrustDomain', { filter: [{ field: 'name', value: ns }] }))
      .items[0]!;
    await svc.update('TrustDomain', adoptedTd.id, { name: `${run}-td` });
    // Another deployment's marks on an adopted pod: its adoption fails, naming the owner.
    await core.patchNamespacedPod(
      {
        namespace: ns,
        name: stolen,
        body: { metadata: { labels: ownerLabels('someone-else', { model: 'X', id: 1 }) } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const stolenPod = await readPod(ns, stolen);
    engine = await startTestEngine(db, set.steps, log);
    const synced = (model: string, name: string) =>
      eventually(`${model} ${name} synced`, async () => {
        const o = (await svc.list(model, { filter: [{ field: 'name', value: name }] })).items[0];
        return o?.backend_code === 1 && o.synced_version === o.version ? o : undefined;
      });
    const td = await synced('TrustDomain', `${run}-td`);
    const si = await synced('KubernetesServiceInstance', web);
    const siB = await synced('KubernetesServiceInstance', api);
    expect(String(si.backend_status)).to.match(new RegExp(`^adopted: marked pod ${ns}/${web}`));
    expect(String(td.backend_status)).to.match(new RegExp(`^adopted: marked namespace ${ns}`));
    const refused = await eventually('the stolen pod refused', async () => {
      const o = (
        await svc.list('KubernetesServiceInstance', { filter: [{ field: 'name', value: stolen }] })
      ).items[0];
      return o?.backend_code === 2 ? o : undefined;
    });
    expect(refused.backend_status).to.equal(
      `error: adopt: pod ${ns}/${stolen} belongs to Syncord deployment someone-else`,
    );
    await set.observer.sweep();
    await engine.resync();
    await sleep(2000);
    // No namespace under the new name; the stolen pod untouched.
    const renamed = await core.readNamespace({ name: `${run}-td` }).catch((e: unknown) => e);
    expect((renamed as { code?: number }).code).to.equal(404);
    expect(comparable(await readPod(ns, stolen))).to.deep.equal(comparable(stolenPod));

    const marks = { labels: OWNER_LABELS, annotations: [SPEC_HASH] };
    const nsNow = await readNs(ns);
    expect(comparable(nsNow, marks)).to.deep.equal(comparable(snap.ns!));
    expect(nsNow.metadata?.labels).to.include(
      ownerLabels(instance, { model: 'TrustDomain', id: td.id }),
    );
    expect(comparable(await readNs(nsB))).to.deep.equal(comparable(snap.nsB!));
    for (const [where, name, owner] of [
      [ns, web, si],
      [nsB, api, siB],
    ] as const) {
      const now = await readPod(where, name);
      expect(now.metadata?.uid, `${name} not replaced`).to.equal(
        snap[name === web ? 'web' : 'api']!.metadata?.uid,
      );
      expect(comparable(now, marks)).to.deep.equal(comparable(snap[name === web ? 'web' : 'api']!));
      expect(now.metadata?.labels).to.include(
        ownerLabels(instance, { model: 'KubernetesServiceInstance', id: owner.id }),
      );
      expect(now.metadata?.annotations?.[SPEC_HASH]).to.match(/^[0-9a-f]{16}$/);
    }
    // The pod feedback, as for Syncord's own pods.
    const fed = await eventually('feedback', async () => {
      const o = await svc.get('KubernetesServiceInstance', si.id);
      return o.pod_phase === 'Running' ? o : undefined;
    });
    expect(fed.pod_ip).to.equal(snap.web!.status?.podIP ?? null);
    // The pods it could not adopt are left alone.
    for (const name of ['two', 'named', 'multus', 'envy']) {
      expect((await readPod(ns, name)).metadata?.labels).to.deep.equal({ app: 'adopt-test' });
    }
  });

  it('deleting the adopted models tears the pods and the namespace down by their handle names', async () => {
    const gone = (what: string, read: () => Promise<Obj>) =>
      eventually(`${what} gone`, async () => {
        try {
          const o = await read();
          return o.metadata?.deletionTimestamp ? true : undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      });
    const si = (
      await svc.list('KubernetesServiceInstance', { filter: [{ field: 'name', value: web }] })
    ).items[0]!;
    const siB = (
      await svc.list('KubernetesServiceInstance', { filter: [{ field: 'name', value: api }] })
    ).items[0]!;
    await svc.delete('KubernetesServiceInstance', si.id);
    await svc.delete('KubernetesServiceInstance', siB.id);
    await gone(`pod ${ns}/${web}`, () => readPod(ns, web));
    await gone(`pod ${nsB}/${api}`, () => readPod(nsB, api));
    // The pods it did not adopt are still there.
    expect((await readPod(ns, 'two')).metadata?.deletionTimestamp).to.equal(undefined);
    const td = (await svc.list('TrustDomain', { filter: [{ field: 'name', value: `${run}-td` }] }))
      .items[0]!;
    await svc.delete('TrustDomain', td.id);
    await gone(`namespace ${ns}`, () => readNs(ns));
  });
});
