// The Kubernetes steps' test harness: a scratch database, the engine running kubernetesStepSet()
// as a Syncord deployment of its own (a unique `syncord.io/instance`), and clients of the rig's
// kube-apiserver; afterwards this run's namespaces go, with whatever a failed test left in them.
import * as k8s from '@kubernetes/client-node';
import type { ModelService } from '../../models/service.js';
import { kubernetesStepSet, type KubernetesSteps } from '../../steps/kubernetes/index.js';
import { Engine } from '../../synchronizer/engine.js';
import { scratchDb, type ScratchDb } from './db.js';
import { kubeConfig, rig, uniqueName, type RigEnv } from './rig.js';

export interface KubeStepsHarness {
  env: RigEnv;
  db: ScratchDb;
  svc: ModelService;
  set: KubernetesSteps;
  engine: Engine;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  instance: string;
  log: string[];
}

/**
 * Registers the suite's before/after hooks and returns the harness, filled in by its `before`
 * (read its fields inside tests and hooks, not at definition time).
 */
export function useKubernetesSteps(
  prefix: string,
  backoff: { baseMs: number; maxMs: number } = { baseMs: 500, maxMs: 2000 },
): KubeStepsHarness {
  const h = { instance: uniqueName(prefix), log: [] as string[] } as KubeStepsHarness;
  before(async function () {
    this.timeout(45 * 60_000);
    h.env = await rig();
    h.db = await scratchDb();
    h.svc = h.db.service;
    const kc = kubeConfig(h.env);
    h.core = kc.makeApiClient(k8s.CoreV1Api);
    h.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const log = (line: string) => h.log.push(line);
    h.set = kubernetesStepSet({ instance: h.instance, sweepMs: 0, log });
    h.engine = new Engine(h.db.registry, h.svc, h.set.steps, {
      url: h.db.url,
      workers: 4,
      resyncMs: 60 * 60_000,
      backoff,
      log,
    });
    await h.engine.start();
  });
  after(async function () {
    this.timeout(60_000);
    await h.engine.stop();
    const left = await h.core.listNamespace({
      labelSelector: `syncord.io/instance=${h.instance}`,
    });
    for (const n of left.items) {
      await h.core.deleteNamespace({ name: n.metadata?.name ?? '' }).catch(() => undefined);
    }
    await h.db.drop();
    if (process.env.SYNCORD_TEST_LOG) console.log(h.log.join('\n'));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(h.log.slice(-40).join('\n'));
  });
  return h;
}

/**
 * A VNF service's tenant: the service, a site, a trust domain named `name` (its namespace) and
 * a slice, and two networks of the given subnets (`<name>-<suffix>`).
 */
export async function vnfTenant(
  svc: ModelService,
  name: string,
  networks: { suffix: string; subnet: string; provider: string }[],
) {
  const owner = await svc.create('VNFService', { name: `${name}-svc`, vendor: 'acme' });
  const site = await svc.create('Site', { name: `${name}-site` });
  const td = await svc.create('TrustDomain', { name, owner_id: owner.id });
  const slice = await svc.create('Slice', {
    name: `${name}-slice`,
    site_id: site.id,
    trust_domain_id: td.id,
    service_id: owner.id,
  });
  const nets = [];
  for (const n of networks) {
    nets.push(
      await svc.create('Network', {
        name: `${name}-${n.suffix}`,
        subnet: n.subnet,
        provider: n.provider,
      }),
    );
  }
  return { owner, site, td, slice, networks: nets };
}
