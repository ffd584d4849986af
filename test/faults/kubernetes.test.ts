// The kube-apiserver as the synchronizer sees it through a TCP proxy of ours (issue 13): cut off
// for a while, slow, or answering garbage. The rig's apiserver is never touched: the Kubernetes
// steps get Syncord's own kubeconfig (the rig's least-privilege ServiceAccount) with the server
// moved to the proxy, so every call and the pod observer's watch go through it; the pods are
// read with the admin's client, straight from the apiserver. Outages last 8 s, or 30 s with
// SYNCORD_FAULTS_FULL=1.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import type { ModelObject, ModelService } from '../../models/service.js';
import { kubernetesStepSet } from '../../steps/kubernetes/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { vnfTenant } from '../support/kube-steps.js';
import { TcpProxy } from '../support/proxy.js';
import { eventually, kubeConfig, rig, sleep, uniqueName, type RigEnv } from '../support/rig.js';
import {
  expectOutageShown,
  OUTAGE,
  OUTAGE_MS,
  StatusRecorder,
  stopRecorders,
  syncedNow,
  type Seen,
} from './support.js';

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> & { server: string } }[];
}

/** The kubeconfig's text with its clusters' server moved to the proxy (CA and token kept). */
function throughProxy(text: string, port: number): { text: string; upstream: URL } {
  const doc = YAML.parse(text) as Kubeconfig;
  const first = doc.clusters[0];
  if (!first) throw new Error('the kubeconfig has no cluster');
  const upstream = new URL(first.cluster.server);
  for (const c of doc.clusters) c.cluster.server = `https://127.0.0.1:${String(port)}`;
  return { text: YAML.stringify(doc), upstream };
}

describe(`faults: the kube-apiserver through a proxy (cut ${OUTAGE}, slow, garbage)`, function () {
  this.timeout(10 * 60_000);
  let env: RigEnv;
  let proxy: TcpProxy | undefined;
  let db: ScratchDb | undefined;
  let engine: Engine | undefined;
  let core: k8s.CoreV1Api;
  let svc: ModelService;
  const instance = uniqueName('fault-k8s');
  const log: string[] = [];
  let tenant: Awaited<ReturnType<typeof vnfTenant>>;
  let image: ModelObject;
  let flavor: ModelObject;
  let ns: string;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    core = kubeConfig(env).makeApiClient(k8s.CoreV1Api);
    const own = readFileSync(env.SYNCORD_KUBECONFIG, 'utf8');
    const upstream = new URL((YAML.parse(own) as Kubeconfig).clusters[0]!.cluster.server);
    proxy = await TcpProxy.start(upstream.hostname, Number(upstream.port || 443));
    const { text } = throughProxy(own, proxy.port);
    db = await scratchDb();
    svc = db.service;
    const set = kubernetesStepSet({
      instance,
      kubeconfig: text,
      sweepMs: 0,
      log: (l) => log.push(`${new Date().toISOString()} ${l}`),
    });
    engine = new Engine(db.registry, svc, set.steps, {
      url: db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      backoff: { baseMs: 500, maxMs: 4000 },
      log: (l) => log.push(`${new Date().toISOString()} ${l}`),
    });
    await engine.start();
    ns = uniqueName('fault-k8s');
    tenant = await vnfTenant(svc, ns, [
      { suffix: 'mgmt', subnet: '10.74.0.0/24', provider: 'ovn' },
    ]);
    image = await svc.create('Image', { name: `registry.example/${ns}/vnf`, tag: '1.0' });
    flavor = await svc.create('Flavor', { name: `${ns}-flavor`, vcpus: 1, memory_mb: 256 });
  });

  after(async function () {
    this.timeout(120_000);
    await stopRecorders();
    await engine?.stop();
    await proxy?.close();
    // The run's namespaces (and what a failed test left in them), with the admin's client.
    const left = await core
      .listNamespace({ labelSelector: `syncord.io/instance=${instance}` })
      .catch(() => undefined);
    for (const n of left?.items ?? []) {
      await core.deleteNamespace({ name: n.metadata?.name ?? '' }).catch(() => undefined);
    }
    await db?.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(log.join('\n'));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-60).join('\n'));
  });

  /** A VNF instance with one port on the tenant's network, as an API call makes them. */
  const newVnf = (suffix: string) =>
    svc.transaction(async (tx) => {
      const vnf = await tx.create('VNFServiceInstance', {
        name: `${ns}-${suffix}`,
        owner_id: tenant.owner.id,
        slice_id: tenant.slice.id,
        image_id: image.id,
        flavor_id: flavor.id,
      });
      await tx.create('Port', {
        network_id: tenant.networks[0]!.id,
        service_instance_id: vnf.id,
        interface_name: 'mgmt0',
      });
      return vnf;
    });

  const wanted = new Map<string, string>(); // pod name → image

  /** Exactly the wanted pods in the namespace (none terminating), each Running with its image. */
  async function exactPods(): Promise<void> {
    const pods = await eventually(
      `exactly the pods ${[...wanted.keys()].join(', ')} Running`,
      async () => {
        const list = await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `syncord.io/instance=${instance}`,
        });
        const items = list.items;
        const settled =
          items.length === wanted.size &&
          items.every(
            (p) =>
              !p.metadata?.deletionTimestamp &&
              p.status?.phase === 'Running' &&
              wanted.get(p.metadata?.name ?? '') === p.spec?.containers[0]?.image,
          );
        return settled ? items : undefined;
      },
      90_000,
    ).catch(async (err: unknown) => {
      const list = await core.listNamespacedPod({ namespace: ns });
      throw new Error(
        `${(err as Error).message}; pods: ${list.items
          .map(
            (p) =>
              `${p.metadata?.name ?? ''} ${p.status?.phase ?? ''} ${p.spec?.containers[0]?.image ?? ''}${p.metadata?.deletionTimestamp ? ' (terminating)' : ''}`,
          )
          .join(', ')}`,
        { cause: err },
      );
    });
    expect(pods.map((p) => p.metadata?.name).sort()).to.deep.equal([...wanted.keys()].sort());
  }

  const converged = async (vnfs: ModelObject[]) => {
    for (const v of vnfs) await syncedNow(svc, 'VNFServiceInstance', v.id, 90_000, log);
  };

  const ports = async (vnf: ModelObject) =>
    (await svc.list('Port', { filter: [{ field: 'service_instance_id', value: vnf.id }] })).items;

  let first: ModelObject;

  it(`fault: kube-apiserver unreachable for ${OUTAGE} (connections cut, port closed): a new instance and an edit made meanwhile land, exactly the pods wanted`, async () => {
    const p = proxy!;
    first = await newVnf('vnf1');
    wanted.set(first.name as string, `${image.name as string}:1.0`);
    await converged([first]);
    await exactPods();

    await p.cut();
    const down = Date.now();
    const tracked = [{ model: 'VNFServiceInstance', id: first.id }];
    const rec = new StatusRecorder(svc, () => tracked);
    rec.start();
    // Meanwhile: a second instance, and the first one's image changed (its pod is replaced).
    const second = await newVnf('vnf2');
    tracked.push({ model: 'VNFServiceInstance', id: second.id });
    wanted.set(second.name as string, `${image.name as string}:1.0`);
    const image2 = await svc.create('Image', { name: image.name, tag: '2.0' });
    await svc.update('VNFServiceInstance', first.id, { image_id: image2.id });
    wanted.set(first.name as string, `${image.name as string}:2.0`);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    const during = await svc.get('VNFServiceInstance', second.id);
    expect(during.synced_version, 'the new instance cannot be synced while cut off').to.not.equal(
      during.version,
    );
    await p.restore();
    const up = Date.now();
    await converged([first, second]);
    console.log(`      (converged ${String(Date.now() - up)} ms after the apiserver was back)`);
    await rec.stop();
    const shown = expectOutageShown(rec, new RegExp(`cluster|${String(p.port)}|apiserver`, 'i'));
    console.log(`      (status while cut off: ${shown.backend_status})`);
    await exactPods();
    for (const v of [first, second]) {
      for (const port of await ports(v)) {
        await syncedNow(svc, 'Port', port.id, 60_000, log);
      }
    }
  });

  it('fault: a slow apiserver (200 ms per chunk, both ways): converges, and no error is shown', async () => {
    const p = proxy!;
    p.delay(200);
    const t0 = Date.now();
    const third = await newVnf('vnf3');
    const tracked = [
      { model: 'VNFServiceInstance', id: first.id },
      { model: 'VNFServiceInstance', id: third.id },
    ];
    const rec = new StatusRecorder(svc, () => tracked);
    rec.start();
    wanted.set(third.name as string, `${image.name as string}:1.0`);
    try {
      await converged([third]);
      for (const port of await ports(third)) await syncedNow(svc, 'Port', port.id, 90_000, log);
      console.log(`      (converged in ${String(Date.now() - t0)} ms at 200 ms per chunk)`);
      await exactPods();
    } finally {
      p.delay(0);
    }
    const seen: Seen[] = await rec.stop();
    expect(
      seen.filter((s) => s.backend_code === 2),
      `errors shown while only slow:\n${rec.summary()}`,
    ).to.deep.equal([]);
  });

  it('fault: an apiserver answering garbage: an error naming the cluster, retried with backoff, then converges', async () => {
    const p = proxy!;
    p.garbage();
    const fourth = await newVnf('vnf4');
    wanted.set(fourth.name as string, `${image.name as string}:1.0`);
    const tracked = [{ model: 'VNFServiceInstance', id: fourth.id }];
    const rec = new StatusRecorder(svc, () => tracked);
    rec.start();
    // At least two failed attempts, the second later than the first by the backoff.
    await eventually(
      'two failed attempts',
      async () => {
        const o = await svc.get('VNFServiceInstance', fourth.id);
        return Number(o.failures) >= 2 ? o : undefined;
      },
      OUTAGE_MS + 30_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; statuses:\n${rec.summary()}`, { cause: err });
    });
    await sleep(Math.max(0, OUTAGE_MS - 2000));
    const accepted = p.accepted;
    await p.restore();
    const up = Date.now();
    await converged([fourth]);
    for (const port of await ports(fourth)) await syncedNow(svc, 'Port', port.id, 60_000, log);
    console.log(`      (converged ${String(Date.now() - up)} ms after the garbage stopped)`);
    await rec.stop();
    const shown = expectOutageShown(rec, new RegExp(`cluster|${String(p.port)}|apiserver`, 'i'));
    console.log(
      `      (status while garbage: ${shown.backend_status}; ${String(accepted)} connections to the proxy so far)`,
    );
    // Backoff: the attempts were spaced, not a hot loop (the failures counted stay few).
    const errors = rec.errors();
    const maxFailures = Math.max(...errors.map((e) => e.failures));
    expect(maxFailures, `failures counted in ${String(OUTAGE_MS)} ms`).to.be.within(2, 20);
    await exactPods();
  });
});
