// `npm run bench -- converge`: N VNF instances with three interfaces each, reconciled into the
// rig's Kubernetes (kube-apiserver with kwok nodes) by the engine with the Kubernetes steps,
// against a floor that makes the same Kubernetes writes directly:
//
// - converge: from the commit of the models (trust domain, slice, N instances, 3N ports, one
//   transaction) until every instance is ok (backend_code 1, synced_version = version), until
//   every instance is also reported Running (pod_phase), and until the apiserver shows every pod
//   Running. The floor applies the namespace, the three NADs and the N pods (built by the step's
//   own planOf/podObject/nadObject from a copy of the models in a database of its own), as many at
//   a time as the engine has workers, and is timed until its last write returned and until every
//   pod is Running. Both sides' pods are awaited Running through the same kind of watch.
// - idle resync: the apiserver requests one full engine.resync() makes once everything is
//   converged (every request of the steps' Kubernetes client counted, watches aside), at N and at
//   a small N (SMALL_N, in a run of its own before): an N-independent count has ratio ~1.
// - edit to pod: EDITS sequential edits of one instance's image (a change Kubernetes cannot make
//   in place for Syncord: the step replaces the pod), each timed from the commit until the
//   apiserver shows a pod of that name with the new image; the floor replaces a pod of its own
//   directly (delete, await it gone, apply the new one), timed the same way; a direct in-place
//   apply of the image is printed too, for reference. The two sides take turns edit by edit.
//
// Every run names its own namespaces and `syncord.io/instance` labels, works in scratch
// databases, deletes its namespaces (and their pods) at the end, and refuses to run against a
// cluster whose nodes are not kwok's. The rig's kwok nodes allow 110 pods each; when the free
// room is short of N, the run raises the nodes' `pods` allocatable and puts it back afterwards.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import pg from 'pg';
import {
  KubernetesCluster,
  KubernetesError,
  ownerLabels,
  type KubeObject,
  type ObjectWatch,
  type WatchEventType,
} from '../backends/kubernetes/index.js';
import { defaultRegistry } from '../models/index.js';
import type { Registry } from '../models/registry.js';
import { ModelService, type ModelObject } from '../models/service.js';
import { kubernetesStepSet, type KubernetesSteps } from '../steps/kubernetes/index.js';
import { nadObject, NAD_API, NAD_KIND, NETWORKS } from '../steps/kubernetes/networks.js';
import { planOf, podNameOf, podObject, type PodPlan } from '../steps/kubernetes/pod.js';
import { Runtime, type KeyedRwLock } from '../steps/kubernetes/runtime.js';
import { Engine } from '../synchronizer/engine.js';
import {
  CpuMeter,
  ReconcileTally,
  forEachBounded,
  median,
  now,
  percentile,
  positiveEnv,
  seconds,
  sleep,
  untilIdle,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

/** Workers, as `syncord serve` runs by default; SYNCORD_BENCH_WORKERS overrides. */
const DEFAULT_WORKERS = 8;
/** The small N whose idle resync the one at N is compared with. */
const SMALL_N = 10;
const EDITS = 50;
const PORTS = 3;
/** Rows per createMany call (all of them in one transaction). */
const BATCH = 500;
const POLL_MS = 20;
/** The engine counts as idle once its queue was empty with no worker busy for this long. */
const QUIET_MS = 300;
const INSTANCE_MODEL = 'VNFServiceInstance';
const FAKE_NODE = 'kwok.x-k8s.io/node';
const NETWORK_PLAN = [
  { name: 'bench-mgmt', provider: 'ovn' },
  { name: 'bench-data', provider: 'flannel' },
  { name: 'bench-ctrl', provider: 'ovn' },
] as const;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// Counting a client's apiserver requests.

/**
 * Counts every request a KubeConfig's clients make: API calls authenticate through
 * applySecurityAuthentication, watches through applyToFetchOptions (@kubernetes/client-node 1.x),
 * once per request. Kinds are `<verb> <resource>`: get, list, apply (server-side apply PATCH),
 * delete, watch.
 */
class RequestCounter {
  private counts = new Map<string, number>();

  constructor(kc: k8s.KubeConfig) {
    const authenticate = kc.applySecurityAuthentication.bind(kc);
    kc.applySecurityAuthentication = async (context) => {
      this.add(describeRequest(context.getHttpMethod(), context.getUrl()));
      await authenticate(context);
    };
    const fetchOptions = kc.applyToFetchOptions.bind(kc);
    kc.applyToFetchOptions = (opts) => {
      this.add('watch');
      return fetchOptions(opts);
    };
  }

  private add(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  reset(): void {
    this.counts = new Map();
  }

  /** Requests counted since the last reset, watches left out. */
  get requests(): number {
    let total = 0;
    for (const [kind, count] of this.counts) if (kind !== 'watch') total += count;
    return total;
  }

  /** `apply pods 200, get pods 200, ...`, most frequent first. */
  breakdown(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([kind, count]) => `${kind} ${String(count)}`)
      .join(', ');
  }
}

/** `GET /api/v1/namespaces/x/pods/y` → `get pods`; `GET .../pods` → `list pods`. */
function describeRequest(method: string, url: string): string {
  const parts = new URL(url).pathname.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  // GET /api/v1 or /apis/<group>/<version>: which resources a group serves (cached per client).
  if (rest.length === 0) return 'discovery';
  let resource = rest[0] ?? '?';
  let named = rest.length >= 2;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    resource = rest[2]!;
    named = rest.length >= 4;
  }
  const verb = method === 'GET' ? (named ? 'get' : 'list') : method === 'PATCH' ? 'apply' : method;
  return `${verb.toLowerCase()} ${resource}`;
}

/**
 * Times what the steps ask of their cluster handle (apply, get, list, remove: each one request,
 * but for a list of several pages) and how long they hold the per-namespace lock of the
 * Kubernetes steps (NADs, ConfigMap, pod read and apply run under it), by wrapping the methods
 * of those two objects: where the time goes, for the log.
 */
/**
 * Counts the SQL statements this process sends (every pg client, the bench's own polling
 * included), by the statement's first words: where the database round trips of a convergence go.
 */
class QueryCounter {
  private counts = new Map<string, number>();
  private static installed: QueryCounter | undefined;

  static install(): QueryCounter {
    if (QueryCounter.installed) return QueryCounter.installed;
    const counter = new QueryCounter();
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const query = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const q = args[0];
      const text = typeof q === 'string' ? q : (q as { text?: string } | null)?.text;
      if (typeof text === 'string') counter.add(text);
      return query.apply(this, args);
    };
    QueryCounter.installed = counter;
    return counter;
  }

  /** Counted by the statement's opening (cheap); named by kind in breakdown(). */
  private add(text: string): void {
    const head = text.slice(0, 120);
    this.counts.set(head, (this.counts.get(head) ?? 0) + 1);
  }

  private static kindOf(text: string): string {
    const words = text.replace(/\s+/g, ' ').trim().split(' ');
    if (/^UPDATE$/i.test(words[0] ?? '')) return `UPDATE ${words[1] ?? ''}`;
    const from = words.findIndex((w) => /^(FROM|INTO)$/i.test(w));
    if (from >= 0 && words[from + 1]) return `${words[0] ?? ''} ${words[from + 1]!}`;
    return words.slice(0, 2).join(' ');
  }

  reset(): void {
    this.counts = new Map();
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** The most frequent kinds. */
  breakdown(top = 12): string {
    // SYNCORD_BENCH_SQL_HEADS=1: the statements themselves (their first 120 characters) too.
    const heads = process.env.SYNCORD_BENCH_SQL_HEADS
      ? `\n${[...this.counts]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 30)
          .map(([h, c]) => `    ${String(c).padStart(6)} ${h.replace(/\s+/g, ' ')}`)
          .join('\n')}`
      : '';
    return this.kinds(top) + heads;
  }

  private kinds(top: number): string {
    const kinds = new Map<string, number>();
    for (const [head, c] of this.counts) {
      const kind = QueryCounter.kindOf(head);
      kinds.set(kind, (kinds.get(kind) ?? 0) + c);
    }
    return [...kinds]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, c]) => `${k} ${String(c)}`)
      .join(', ');
  }
}

class CallTimer {
  private calls = new Map<string, { count: number; ms: number }>();
  private lockHeld = 0;
  private since = now();

  constructor(cluster: KubernetesCluster, locks: KeyedRwLock) {
    const apply = cluster.apply.bind(cluster);
    cluster.apply = (obj) => this.time(`apply ${obj.kind ?? '?'}`, () => apply(obj));
    const get = cluster.get.bind(cluster);
    cluster.get = (apiVersion, kind, namespace, name) =>
      this.time(`get ${kind}`, () => get(apiVersion, kind, namespace, name));
    const list = cluster.listWithVersion.bind(cluster);
    cluster.listWithVersion = (apiVersion, kind, namespace, selector) =>
      this.time(`list ${kind}`, () => list(apiVersion, kind, namespace, selector));
    const remove = cluster.remove.bind(cluster);
    cluster.remove = (apiVersion, kind, namespace, name, options) =>
      this.time(`delete ${kind}`, () => remove(apiVersion, kind, namespace, name, options));
    // Time spent holding the namespace lock exclusively (the NAD sweep); pod syncs share it.
    const exclusive = locks.exclusive.bind(locks);
    locks.exclusive = (key, job) =>
      exclusive(key, async () => {
        const t = now();
        try {
          return await job();
        } finally {
          this.lockHeld += now() - t;
        }
      });
  }

  private async time<T>(kind: string, work: () => Promise<T>): Promise<T> {
    const t = now();
    try {
      return await work();
    } finally {
      const c = this.calls.get(kind) ?? { count: 0, ms: 0 };
      c.count++;
      c.ms += now() - t;
      this.calls.set(kind, c);
    }
  }

  reset(): void {
    this.calls = new Map();
    this.lockHeld = 0;
    this.since = now();
  }

  /** Mean latency per kind of call, and the share of the wall time the namespace lock was held. */
  report(withLock = true): string[] {
    const wall = now() - this.since;
    const calls = [...this.calls]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([kind, c]) => `${kind} ${String(c.count)} x ${(c.ms / c.count).toFixed(1)} ms`);
    const lines = [`  calls (count x mean latency): ${calls.join(', ')}`];
    if (withLock) {
      lines.push(
        `  the namespace lock was held ${seconds(this.lockHeld)} of ${seconds(wall)} ` +
          `(${((100 * this.lockHeld) / wall).toFixed(0)} %)`,
      );
    }
    return lines;
  }
}

// ---------------------------------------------------------------------------------------------
// The cluster: kwok nodes only, with room for the pods.

/**
 * The bench's own clients (the floor, its checks of kwok's nodes and their room for pods) act as
 * the operator, from $KUBECONFIG: the rig's admin. Syncord's engine in the bench uses its own
 * kubeconfig ($SYNCORD_KUBECONFIG, least privilege), as `syncord serve` does.
 */
const operatorKubeconfig = (): string | undefined => {
  const file = process.env.KUBECONFIG?.trim();
  return file ? readFileSync(file, 'utf8') : undefined;
};

export class Kube {
  readonly cluster = KubernetesCluster.fromKubeconfig(operatorKubeconfig());
  readonly core = this.cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);

  /** Refuses a cluster with a node that is not one of kwok's (it would run real pods). */
  async checkKwok(): Promise<V1Node[]> {
    const nodes = (await this.core.listNode()).items;
    const real = nodes.filter((n) => n.metadata?.annotations?.[FAKE_NODE] !== 'fake');
    if (nodes.length === 0 || real.length) {
      throw new Error(
        `converge runs only against the rig's kwok nodes; ${this.cluster.server} has ` +
          (nodes.length ? `node ${real[0]?.metadata?.name ?? '?'} that is not kwok's` : 'no node'),
      );
    }
    return nodes;
  }

  /**
   * Makes room for `need` more pods on the schedulable nodes: when the pods they allow, less the
   * pods there (and those waiting for a node), fall short, their `pods` allocatable and capacity
   * are raised. Returns how to put back what was changed.
   */
  async ensurePodRoom(need: number, log: (line: string) => void): Promise<() => Promise<void>> {
    const nodes = (await this.checkKwok()).filter(
      (node) =>
        !node.spec?.unschedulable &&
        !(node.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule') &&
        (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (nodes.length === 0) throw new Error('no schedulable Ready node in the cluster');
    const pods = (
      await this.core.listPodForAllNamespaces({
        fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
      })
    ).items;
    const allowed = (node: V1Node) => Number(node.status?.allocatable?.pods ?? '0');
    const room = nodes.reduce((sum, node) => sum + allowed(node), 0) - pods.length;
    if (room >= need) {
      log(`the ${String(nodes.length)} kwok nodes have room for ${String(room)} more pods`);
      return () => Promise.resolve();
    }
    const perNode = Math.ceil((pods.length + need) / nodes.length) + 10;
    const changed: { name: string; was: string; now: string }[] = [];
    for (const node of nodes) {
      const name = node.metadata?.name ?? '';
      const was = node.status?.allocatable?.pods ?? '0';
      if (Number(was) >= perNode) continue;
      await this.setPods(name, String(perNode));
      changed.push({ name, was, now: String(perNode) });
    }
    log(
      `the kwok nodes had room for ${String(room)} more pods, not ${String(need)}: raised their ` +
        `pods allocatable to ${String(perNode)} for the run (${changed.map((c) => `${c.name} was ${c.was}`).join(', ')})`,
    );
    return async () => {
      for (const c of changed) {
        const node = await this.core.readNode({ name: c.name }).catch(() => undefined);
        if (node?.status?.allocatable?.pods !== c.now) continue; // changed by someone else since
        await this.setPods(c.name, c.was);
      }
      if (changed.length) log(`put the kwok nodes' pods allocatable back`);
    };
  }

  private async setPods(name: string, pods: string): Promise<void> {
    await this.core.patchNodeStatus({
      name,
      body: [
        { op: 'replace', path: '/status/allocatable/pods', value: pods },
        { op: 'replace', path: '/status/capacity/pods', value: pods },
      ],
    });
  }

  /** Deletes a namespace's pods at once and the namespace, and waits until it is gone. */
  async deleteNamespace(name: string, log: (line: string) => void): Promise<void> {
    const started = now();
    const gone = (err: unknown) => (err as { code?: number }).code === 404;
    try {
      await this.core.deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 });
      await this.core.deleteNamespace({ name });
    } catch (err) {
      if (gone(err)) return;
      throw err;
    }
    for (;;) {
      const there = await this.core.readNamespace({ name }).then(
        () => true,
        (err: unknown) => {
          if (gone(err)) return false;
          throw err;
        },
      );
      if (!there) break;
      if (now() - started > 10 * 60_000) {
        log(`namespace ${name} is still terminating after 10 minutes; left to the cluster`);
        return;
      }
      await sleep(500);
    }
    log(`deleted namespace ${name} in ${seconds(now() - started)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Following the pods of one namespace as the apiserver shows them.

const imageOfPod = (pod: V1Pod | undefined) => pod?.spec?.containers[0]?.image;
export const isRunning = (pod: V1Pod | undefined) =>
  pod?.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;

/** A watch of one namespace's pods; `until` resolves with the time of the event that did it. */
export class PodTracker {
  private readonly watch: ObjectWatch<V1Pod>;
  private readonly names = new Set<string>();
  private readonly running = new Set<string>();
  private waiters: { check: () => boolean; done: () => void }[] = [];

  constructor(
    cluster: KubernetesCluster,
    readonly namespace: string,
    log: (line: string) => void,
  ) {
    this.watch = cluster.watch<V1Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace,
      onEvent: (type, pod) => {
        this.onEvent(type, pod);
      },
      onError: (err) => {
        log(`pod watch of ${namespace}: ${err.message} (resuming)`);
      },
    });
  }

  async start(): Promise<void> {
    this.watch.start();
    await this.watch.synced();
  }

  stop(): Promise<void> {
    return this.watch.stop();
  }

  get size(): number {
    return this.names.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  pod(name: string): V1Pod | undefined {
    return this.watch.get(this.namespace, name);
  }

  /** Called once each time a pod becomes Running (the chain's floor writes its VTN hosts). */
  onRunning: ((pod: V1Pod) => void) | undefined;

  private onEvent(type: WatchEventType, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    if (type === 'DELETED') this.names.delete(name);
    else this.names.add(name);
    if (type !== 'DELETED' && isRunning(pod)) {
      if (!this.running.has(name)) this.onRunning?.(pod);
      this.running.add(name);
    } else {
      this.running.delete(name);
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.done();
      return false;
    });
  }

  /** Resolves with now() at the first event after which `check` holds (at once if it does). */
  until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
    if (check()) return Promise.resolve(now());
    return new Promise((resolve, reject) => {
      const waiter = {
        check,
        done: () => {
          clearTimeout(timer);
          resolve(now());
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Until a pod of that name shows the image and is not being deleted. */
  untilImage(name: string, image: string, timeoutMs = 120_000): Promise<number> {
    return this.until(
      `pod ${this.namespace}/${name} with image ${image}`,
      () => {
        const pod = this.pod(name);
        return imageOfPod(pod) === image && !pod?.metadata?.deletionTimestamp;
      },
      timeoutMs,
    );
  }
}

/** What must be alike in a floor pod and a Syncord pod (names, addresses and MACs aside). */
export function shapeOf(pod: V1Pod): string {
  const meta = pod.metadata ?? {};
  let networks: {
    name?: string;
    interface?: string;
    ips?: string[];
    mac?: string;
    'cni-args'?: { ovnPort?: string };
  }[] = [];
  try {
    networks = JSON.parse(meta.annotations?.[NETWORKS] ?? '[]') as typeof networks;
  } catch {
    networks = [];
  }
  return JSON.stringify({
    labels: Object.keys(meta.labels ?? {}).sort(),
    annotations: Object.keys(meta.annotations ?? {}).sort(),
    restartPolicy: pod.spec?.restartPolicy,
    serviceAccountName: pod.spec?.serviceAccountName,
    containers: (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      resources: c.resources,
      // The service account token Kubernetes mounts has a generated name.
      volumeMounts: (c.volumeMounts ?? []).filter((m) => !m.name.startsWith('kube-api-access')),
    })),
    volumes: (pod.spec?.volumes ?? []).filter((v) => !v.name.startsWith('kube-api-access')),
    networks: networks.map((n) => ({
      name: n.name,
      interface: n.interface,
      ips: n.ips?.length,
      mac: typeof n.mac,
      // The logical switch port the CNI binds, named when the deployment's OVN steps run.
      ovnPort: typeof n['cni-args']?.ovnPort,
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// The models.

interface Seed {
  service: ModelObject;
  site: ModelObject;
  /** The image the instances start with, and the one edits switch to and back. */
  images: [ModelObject, ModelObject];
  flavor: ModelObject;
  networks: ModelObject[];
}

const imageText = (image: ModelObject): string => `${String(image.name)}:${String(image.tag)}`;

/** Network k's subnet: room for n ports (and a few edits' worth). */
function subnetFor(k: number, n: number): string {
  const hostBits = Math.max(8, Math.ceil(Math.log2(n + 16)));
  if (hostBits > 16) throw new RangeError(`${String(n)} ports do not fit in a /16`);
  return `10.${String(90 + k)}.0.0/${String(32 - hostBits)}`;
}

/** What every world refers to: a service, a site, two images, a flavor, three networks. */
async function seed(svc: ModelService, n: number): Promise<Seed> {
  const service = await svc.create('VNFService', { name: 'bench-vnf', vendor: 'acme' });
  const site = await svc.create('Site', { name: 'bench-site' });
  const images: [ModelObject, ModelObject] = [
    await svc.create('Image', { name: 'registry.example/bench/vnf', tag: '1.0' }),
    await svc.create('Image', { name: 'registry.example/bench/vnf', tag: '1.1' }),
  ];
  // Memory only: kwok's nodes have 32 CPUs each, and a CPU request per pod would fill them.
  const flavor = await svc.create('Flavor', { name: 'bench-small', memory_mb: 64 });
  const networks: ModelObject[] = [];
  for (const [k, plan] of NETWORK_PLAN.entries()) {
    networks.push(
      await svc.create('Network', { ...plan, subnet: subnetFor(k, n), owner_id: null }),
    );
  }
  return { service, site, images, flavor, networks };
}

/**
 * One transaction: the trust domain (the namespace), its slice, n instances and their 3n ports,
 * created BATCH at a time with createMany.
 */
async function commitWorld(
  svc: ModelService,
  s: Seed,
  namespace: string,
  n: number,
): Promise<{ td: ModelObject; instances: ModelObject[] }> {
  return svc.transaction(async (tx) => {
    const td = await tx.create('TrustDomain', { name: namespace, owner_id: s.service.id });
    const slice = await tx.create('Slice', {
      name: `${namespace}-slice`,
      site_id: s.site.id,
      trust_domain_id: td.id,
      service_id: s.service.id,
    });
    const instances: ModelObject[] = [];
    for (let from = 0; from < n; from += BATCH) {
      const rows: Record<string, unknown>[] = [];
      for (let i = from; i < Math.min(n, from + BATCH); i++) {
        rows.push({
          name: `vnf-${String(i)}`,
          owner_id: s.service.id,
          slice_id: slice.id,
          image_id: s.images[0].id,
          flavor_id: s.flavor.id,
        });
      }
      instances.push(...(await tx.createMany(INSTANCE_MODEL, rows)));
    }
    const ports: Record<string, unknown>[] = [];
    for (const si of instances) {
      s.networks.forEach((network, k) => {
        ports.push({
          network_id: network.id,
          service_instance_id: si.id,
          interface_name: `net${String(k + 1)}`,
        });
      });
    }
    for (let from = 0; from < ports.length; from += BATCH) {
      await tx.createMany('Port', ports.slice(from, from + BATCH));
    }
    return { td, instances };
  });
}

// ---------------------------------------------------------------------------------------------
// Syncord: the engine with the Kubernetes steps.

interface Converged {
  /** Times since the commit, ms. */
  ok: number;
  okRunning: number;
  portsOk: number;
  podsRunning: number;
}

interface ResyncCost {
  requests: number;
  breakdown: string;
  objects: number;
  ms: number;
}

class SyncordSide {
  cpu = new CpuMeter();
  /** CPU used from the first write until converged. */
  cpuReport = '';
  readonly set: KubernetesSteps;
  readonly engine: Engine;
  readonly counter: RequestCounter;
  readonly timer: CallTimer;
  readonly queries = QueryCounter.install();
  readonly tracker: PodTracker;
  private readonly sql: pg.Pool;
  private readonly tally = new ReconcileTally();
  private readonly engineLog: string[] = [];
  instances: ModelObject[] = [];

  constructor(
    kube: Kube,
    readonly svc: ModelService,
    url: string,
    registry: Registry,
    instance: string,
    readonly namespace: string,
    workers: number,
    private readonly log: (line: string) => void,
  ) {
    const remember = (line: string) => {
      if (this.engineLog.length < 1000) this.engineLog.push(line);
    };
    this.set = kubernetesStepSet({ instance, sweepMs: 0, log: remember });
    const cluster = this.set.runtime.clusters.env().cluster;
    this.counter = new RequestCounter(cluster.kubeConfig);
    this.timer = new CallTimer(cluster, this.set.runtime.locks);
    this.engine = new Engine(registry, svc, this.set.steps, {
      url,
      workers,
      resyncMs: 24 * 3600_000, // resyncs are started by hand here
      log: remember,
      onReconcile: this.tally.record,
    });
    this.tracker = new PodTracker(kube.cluster, namespace, log);
    this.sql = new pg.Pool({ connectionString: url, max: 2 });
    this.sql.on('error', () => undefined);
  }

  async start(): Promise<void> {
    await this.tracker.start();
    await this.engine.start();
  }

  async stop(): Promise<void> {
    await this.engine.stop();
    await this.tracker.stop();
    await this.sql.end();
  }

  /** Commits the world and waits until it has converged; times from the commit. */
  async converge(s: Seed, n: number): Promise<Converged> {
    this.counter.reset();
    this.timer.reset();
    const world = await commitWorld(this.svc, s, this.namespace, n);
    this.queries.reset();
    this.cpu = new CpuMeter();
    const t0 = now();
    this.instances = world.instances;
    const timeoutMs = 120_000 + n * 1000;
    let podsRunning: number | undefined;
    let podsFailed: Error | undefined;
    void this.tracker
      .until(`${String(n)} pods Running`, () => this.tracker.runningCount >= n, timeoutMs)
      .then(
        (t) => (podsRunning = t),
        (err: unknown) => (podsFailed = err instanceof Error ? err : new Error(String(err))),
      );
    const marks: Partial<Record<'ok' | 'okRunning' | 'portsOk', number>> = {};
    let lastLog = t0;
    for (;;) {
      const p = await this.progress();
      const t = now();
      if (p.ok >= n) marks.ok ??= t;
      if (p.okRunning >= n) marks.okRunning ??= t;
      if (p.portsOk >= n * PORTS) marks.portsOk ??= t;
      if (podsFailed !== undefined) throw podsFailed;
      if (
        marks.ok !== undefined &&
        marks.okRunning !== undefined &&
        marks.portsOk !== undefined &&
        podsRunning !== undefined
      ) {
        break;
      }
      if (t - lastLog >= 5000) {
        lastLog = t;
        this.log(
          `  ${seconds(t - t0)}: ${String(p.ok)} ok, ${String(p.okRunning)} ok and Running, ` +
            `${String(this.tracker.runningCount)} pods Running in the apiserver, ` +
            `${String(p.portsOk)}/${String(n * PORTS)} ports ok; queue ${String(this.engine.queue.depth)}`,
        );
      }
      if (t - t0 > timeoutMs) throw new Error(await this.stuck(n, t - t0));
      await sleep(POLL_MS);
    }
    this.cpuReport = this.cpu.report(
      "the engine, the observer and the bench's own watches and polls",
    );
    return {
      ok: marks.ok - t0,
      okRunning: marks.okRunning - t0,
      portsOk: marks.portsOk - t0,
      podsRunning: podsRunning - t0,
    };
  }

  private async progress(): Promise<{ ok: number; okRunning: number; portsOk: number }> {
    const r = await this.sql.query<{ ok: number; ok_running: number; ports_ok: number }>(
      `SELECT
         count(*) FILTER (WHERE backend_code = 1 AND synced_version = version)::int AS ok,
         count(*) FILTER (WHERE backend_code = 1 AND synced_version = version
                            AND pod_phase = 'Running')::int AS ok_running,
         (SELECT count(*) FROM port WHERE deleted_at IS NULL AND backend_code = 1
            AND synced_version = version)::int AS ports_ok
       FROM service_instance WHERE leaf_model = $1 AND deleted_at IS NULL`,
      [INSTANCE_MODEL],
    );
    const row = r.rows[0]!;
    return { ok: row.ok, okRunning: row.ok_running, portsOk: row.ports_ok };
  }

  private async stuck(n: number, ms: number): Promise<string> {
    const r = await this.sql.query<{ name: string; backend_status: string; pod_phase: string }>(
      `SELECT name, backend_status, pod_phase FROM service_instance
        WHERE leaf_model = $1 AND NOT (backend_code = 1 AND synced_version = version
                                       AND pod_phase IS NOT DISTINCT FROM 'Running')
        ORDER BY id LIMIT 3`,
      [INSTANCE_MODEL],
    );
    const samples = r.rows.map((row) => `${row.name}: ${row.backend_status} (${row.pod_phase})`);
    return `${String(n)} instances did not converge in ${seconds(ms)}; e.g. ${samples.join('; ')}`;
  }

  /** Resolves once the engine has had nothing queued and nothing in flight for QUIET_MS. */
  idle(timeoutMs = 300_000): Promise<number> {
    return untilIdle(this.engine, QUIET_MS, timeoutMs);
  }

  /** One full resync at idle: the apiserver requests it made and how long until idle again. */
  async idleResync(): Promise<ResyncCost> {
    await this.idle();
    this.counter.reset();
    this.timer.reset();
    const t0 = now();
    const objects = await this.engine.resync();
    const idleAt = await this.idle();
    return {
      requests: this.counter.requests,
      breakdown: this.counter.breakdown(),
      objects,
      ms: idleAt - t0,
    };
  }

  /** Switches the instance's image; ms from the commit until the apiserver shows the new pod. */
  async edit(si: ModelObject, image: ModelObject): Promise<number> {
    const name = podNameOf(si);
    const updated = await this.svc.update(INSTANCE_MODEL, si.id, { image_id: image.id });
    const t0 = now();
    const t1 = await this.tracker.untilImage(name, imageText(image));
    // Settled before the next edit: synced at its version, the pod Running, the engine idle.
    for (;;) {
      const o = await this.svc.get(INSTANCE_MODEL, si.id);
      if (
        o.backend_code === 1 &&
        o.synced_version === updated.version &&
        o.pod_phase === 'Running'
      ) {
        break;
      }
      await sleep(POLL_MS);
    }
    await this.idle();
    return t1 - t0;
  }

  /** Starts the counts of report() afresh. */
  resetStats(): void {
    this.timer.reset();
    this.tally.reset();
  }

  /** The engine's view of where the time went, for the log. */
  report(withLock = true): string[] {
    const lines = [...this.timer.report(withLock)];
    lines.push(
      ...this.tally
        .entries()
        .map(
          ([key, count, s]) =>
            `  ${key}: ${String(count)} runs, ${s.toFixed(1)} s in all, ` +
            `${((s / count) * 1000).toFixed(1)} ms each`,
        ),
    );
    const errors = this.engineLog.filter((line) => /error|fail/i.test(line));
    if (errors.length) {
      lines.push(`  ${String(errors.length)} engine log lines with errors, e.g. ${errors[0]!}`);
    }
    return lines;
  }
}

// ---------------------------------------------------------------------------------------------
// The floor: the same Kubernetes writes, directly.

export interface FloorPlan {
  namespace: V1Namespace;
  nads: KubeObject[];
  plans: PodPlan[];
  pods: V1Pod[];
  runtime: Runtime;
}

/** The floor's objects, built by the step's own code from a copy of the models. */
async function prepareFloor(
  serverUrl: string,
  registry: Registry,
  instance: string,
  namespace: string,
  n: number,
  workers: number,
): Promise<FloorPlan> {
  return withMigratedScratch(serverUrl, registry, async (url) => {
    const svc = new ModelService(url, registry, { poolSize: workers });
    try {
      const s = await seed(svc, n);
      const { td, instances } = await commitWorld(svc, s, namespace, n);
      return await floorPlanOf(svc, instance, td, s.networks, instances, workers);
    } finally {
      await svc.close();
    }
  });
}

/**
 * The namespace, NADs and pods the Kubernetes steps would apply for these models (a trust
 * domain, its networks, its instances), built by the steps' own code as deployment `instance`.
 */
export async function floorPlanOf(
  svc: ModelService,
  instance: string,
  td: ModelObject,
  networks: readonly ModelObject[],
  instances: readonly ModelObject[],
  workers: number,
): Promise<FloorPlan> {
  const runtime = new Runtime({ instance, sweepMs: 0 });
  const namespace = String(td.name);
  const plans: PodPlan[] = new Array<PodPlan>(instances.length);
  await forEachBounded(instances, workers, async (si, i) => {
    plans[i] = await planOf(runtime, svc, si);
  });
  return {
    namespace: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: ownerLabels(instance, { model: 'TrustDomain', id: td.id }),
      },
    },
    nads: networks.map((network) => nadObject(runtime.options, instance, namespace, network)),
    plans,
    pods: plans.map((plan) => podObject(runtime, plan)),
    runtime,
  };
}

export class FloorSide {
  cpu = new CpuMeter();
  /** CPU used from the first write until converged. */
  cpuReport = '';
  readonly cluster: KubernetesCluster;
  readonly counter: RequestCounter;
  readonly tracker: PodTracker;
  /** Pod applies refused because the namespace's default service account was not there yet. */
  serviceAccountRetries = 0;
  /** Pods applied again after kwok deleted them while settling (see settle()). */
  madeAgain = 0;

  constructor(
    kube: Kube,
    readonly plan: FloorPlan,
    log: (line: string) => void,
  ) {
    this.cluster = plan.runtime.clusters.env().cluster;
    this.counter = new RequestCounter(this.cluster.kubeConfig);
    this.tracker = new PodTracker(kube.cluster, plan.namespace.metadata?.name ?? '', log);
  }

  /** The namespace, the NADs, then the pods `workers` at a time; times from the first write. */
  async converge(workers: number): Promise<{ written: number; running: number }> {
    await this.tracker.start();
    const n = this.plan.pods.length;
    this.counter.reset();
    this.cpu = new CpuMeter();
    const t0 = now();
    await this.write(workers);
    const written = now();
    const running = await this.tracker.until(
      `${String(n)} floor pods Running`,
      () => this.tracker.runningCount >= n,
      120_000 + n * 1000,
    );
    this.cpuReport = this.cpu.report(
      "the engine, the observer and the bench's own watches and polls",
    );
    return { written: written - t0, running: running - t0 };
  }

  /** One server-side apply of the namespace, then of each NAD, then the pods `workers` at a time. */
  async write(workers: number): Promise<void> {
    await this.cluster.apply(this.plan.namespace);
    for (const nad of this.plan.nads) await this.cluster.apply(nad);
    await forEachBounded(this.plan.pods, workers, (pod) => this.applyPod(pod));
  }

  /** Applies a pod, again after a moment while the namespace has no default service account. */
  private async applyPod(pod: V1Pod): Promise<void> {
    for (;;) {
      try {
        await this.cluster.apply(pod);
        return;
      } catch (err) {
        if (
          err instanceof KubernetesError &&
          err.code === 403 &&
          /service account/.test(err.message)
        ) {
          this.serviceAccountRetries++;
          await sleep(10);
          continue;
        }
        throw err;
      }
    }
  }

  /** Deletes every pod but the first (kept for the edits) and waits until they are gone. */
  async keepOnlyFirst(kube: Kube): Promise<void> {
    const first = this.plan.plans[0]!;
    await kube.core.deleteCollectionNamespacedPod({
      namespace: first.namespace,
      labelSelector: `syncord.io/id!=${String(first.owner.id)}`,
      gracePeriodSeconds: 0,
    });
    await this.tracker.until('the floor pods deleted', () => this.tracker.size === 1, 600_000);
  }

  private podWith(image: string): V1Pod {
    return podObject(this.plan.runtime, { ...this.plan.plans[0]!, image });
  }

  /** What the step does on an image edit, directly: delete, await gone, apply the new pod. */
  async replace(image: string): Promise<number> {
    const name = this.plan.plans[0]!.name;
    const pod = this.podWith(image);
    const t0 = now();
    const live = this.tracker.pod(name);
    await this.cluster.remove('v1', 'Pod', this.tracker.namespace, name, {
      uid: live?.metadata?.uid,
    });
    await this.tracker.until(`floor pod ${name} gone`, () => !this.tracker.pod(name), 60_000);
    await this.applyPod(pod);
    const t1 = await this.tracker.untilImage(name, image);
    await this.settle(name, pod);
    return t1 - t0;
  }

  /** One direct server-side apply of the new image (Kubernetes changes it in place). */
  async applyInPlace(image: string): Promise<number> {
    const name = this.plan.plans[0]!.name;
    const pod = this.podWith(image);
    const t0 = now();
    await this.applyPod(pod);
    const t1 = await this.tracker.untilImage(name, image);
    await this.settle(name, pod);
    return t1 - t0;
  }

  /**
   * Until the pod is Running (untimed, before the next edit). kwok retries a pod deletion that
   * failed by name, and can so delete the next pod of the same name when it is made within a
   * second or so: such a pod is applied again, as a controller would (Syncord's observer does).
   */
  private async settle(name: string, pod: V1Pod): Promise<void> {
    for (;;) {
      await this.tracker.until(
        `floor pod ${name} Running`,
        () => {
          const live = this.tracker.pod(name);
          return !live || live.metadata?.deletionTimestamp !== undefined || isRunning(live);
        },
        60_000,
      );
      if (isRunning(this.tracker.pod(name))) return;
      await this.tracker.until(`floor pod ${name} gone`, () => !this.tracker.pod(name), 60_000);
      this.madeAgain++;
      await this.applyPod(pod);
    }
  }
}

// ---------------------------------------------------------------------------------------------

export async function countObjects(
  kube: Kube,
  namespace: string,
): Promise<{ pods: number; nads: number }> {
  const pods = await kube.cluster.list('v1', 'Pod', namespace);
  const nads = await kube.cluster.list(NAD_API, NAD_KIND, namespace);
  return { pods: pods.length, nads: nads.length };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { n, log } = ctx;
  if (!process.env.KUBECONFIG) {
    throw new Error(
      'converge needs the rig\'s Kubernetes: run `eval "$(rig/rig env)"` first (KUBECONFIG is not set)',
    );
  }
  const workers = positiveEnv('SYNCORD_BENCH_WORKERS', DEFAULT_WORKERS);
  const registry = defaultRegistry();
  const kube = new Kube();
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const instance = `bench-cv-${tag}`;
  const names = {
    small: `bench-cv-${tag}-${String(SMALL_N)}`,
    floor: `bench-cv-${tag}-${String(n)}-floor`,
    syncord: `bench-cv-${tag}-${String(n)}`,
  };
  const made: string[] = [];
  let floor: FloorSide | undefined;
  const restoreRoom = await kube.ensurePodRoom(n + SMALL_N + 10, log);
  try {
    log(`engine workers ${String(workers)}; floor concurrency ${String(workers)}`);

    // The small N first: the idle resync there is what the one at N is compared with (and the
    // run warms up the code both sides share).
    log(`small run: ${String(SMALL_N)} instances in namespace ${names.small}`);
    made.push(names.small);
    const small = await withMigratedScratch(ctx.serverUrl, registry, async (url) => {
      const svc = new ModelService(url, registry, { poolSize: 20 });
      const side = new SyncordSide(
        kube,
        svc,
        url,
        registry,
        `${instance}-small`,
        names.small,
        workers,
        log,
      );
      try {
        const s = await seed(svc, SMALL_N);
        await side.start();
        const c = await side.converge(s, SMALL_N);
        log(`  converged in ${seconds(c.okRunning)}`);
        return await side.idleResync();
      } finally {
        await side.stop();
        await svc.close();
      }
    });
    log(
      `  idle resync at N=${String(SMALL_N)}: ${String(small.requests)} requests (${small.breakdown})`,
    );
    await kube.deleteNamespace(names.small, log);

    // The floor.
    log(`floor: building ${String(n)} pods with the step's planOf/podObject (untimed)`);
    const floorPlan = await prepareFloor(
      ctx.serverUrl,
      registry,
      `${instance}-floor`,
      names.floor,
      n,
      workers,
    );
    const floorSide = new FloorSide(kube, floorPlan, log);
    floor = floorSide;
    made.push(names.floor);
    log(`floor: namespace ${names.floor}, 3 NADs, ${String(n)} pods, ${String(workers)} at a time`);
    const f = await floorSide.converge(workers);
    const floorCounts = await countObjects(kube, names.floor);
    log(
      `  writes done in ${seconds(f.written)}, all Running in ${seconds(f.running)}; ` +
        `${String(floorSide.counter.requests)} requests (${floorSide.counter.breakdown()}); ` +
        `${String(floorSide.serviceAccountRetries)} pod applies retried for the default service account`,
    );
    log(`  ${floorSide.cpuReport}`);
    if (floorCounts.pods !== n || floorCounts.nads !== NETWORK_PLAN.length) {
      throw new Error(
        `the floor made ${String(floorCounts.pods)} pods and ${String(floorCounts.nads)} NADs`,
      );
    }
    await floorSide.keepOnlyFirst(kube);

    // Syncord.
    return await withMigratedScratch(ctx.serverUrl, registry, async (url) => {
      const svc = new ModelService(url, registry, { poolSize: 20 });
      const side = new SyncordSide(kube, svc, url, registry, instance, names.syncord, workers, log);
      try {
        const s = await seed(svc, n);
        await side.start();
        made.push(names.syncord);
        log(`syncord: committing ${String(n)} instances and ${String(n * PORTS)} ports`);
        const c = await side.converge(s, n);
        log(
          `  ok in ${seconds(c.ok)}, ok and Running in ${seconds(c.okRunning)}, pods Running ` +
            `(apiserver) in ${seconds(c.podsRunning)}, ports ok in ${seconds(c.portsOk)}`,
        );
        log(`  ${String(side.counter.requests)} requests (${side.counter.breakdown()})`);
        log(`  ${side.cpuReport}`);
        log(
          `  ${String(side.queries.total)} SQL statements, the progress polls included (${side.queries.breakdown()})`,
        );
        for (const line of side.report()) log(line);

        // Both sides did the same: as many pods and NADs, pods alike.
        const counts = await countObjects(kube, names.syncord);
        if (counts.pods !== n || counts.nads !== NETWORK_PLAN.length) {
          throw new Error(
            `syncord made ${String(counts.pods)} pods and ${String(counts.nads)} NADs, not ${String(n)} and ${String(NETWORK_PLAN.length)}`,
          );
        }
        const mine = side.tracker.pod(podNameOf(side.instances[0]!));
        const theirs = floorSide.tracker.pod(floorPlan.plans[0]!.name);
        if (!mine || !theirs || shapeOf(mine) !== shapeOf(theirs)) {
          throw new Error(
            `the floor's pods differ from Syncord's:\n  floor   ${theirs ? shapeOf(theirs) : 'none'}\n  syncord ${mine ? shapeOf(mine) : 'none'}`,
          );
        }
        log('checked: both sides made the namespace, 3 NADs and N pods alike');

        const resync = await side.idleResync();
        log(
          `  idle resync at N=${String(n)}: ${String(resync.objects)} objects queued, ` +
            `${String(resync.requests)} requests (${resync.breakdown}), idle again after ${seconds(resync.ms)}`,
        );
        for (const line of side.timer.report()) log(line);

        // Edits, taking turns with the floor's.
        log(
          `edits: ${String(EDITS)} image edits of ${String(side.instances[0]!.name)}, in turn with the floor's`,
        );
        const target = side.instances[0]!;
        side.resetStats();
        const times = { syncord: [] as number[], replace: [] as number[], inPlace: [] as number[] };
        const texts = s.images.map(imageText);
        for (let i = 0; i < EDITS; i++) {
          const next = (i + 1) % 2;
          const steps: (() => Promise<void>)[] = [
            async () => {
              times.syncord.push(await side.edit(target, s.images[next]!));
            },
            async () => {
              times.replace.push(await floorSide.replace(texts[next]!));
              times.inPlace.push(await floorSide.applyInPlace(texts[1 - next]!));
            },
          ];
          if (i % 2) steps.reverse();
          for (const step of steps) await step();
        }
        const ms = (xs: number[]) =>
          `p50 ${median(xs).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms`;
        log(
          `  syncord ${ms(times.syncord)}; floor replacement ${ms(times.replace)}; ` +
            `floor in-place apply ${ms(times.inPlace)}` +
            (floorSide.madeAgain
              ? `; ${String(floorSide.madeAgain)} floor pods deleted by kwok's retry and applied again`
              : ''),
        );
        // The floor's turns are in the wall time here: the lock's share would mean nothing.
        for (const line of side.report(false)) log(line);
        const w = `${String(workers)} workers`;
        const time = { op: '<', ratio: 1.5 } as const;
        return [
          {
            figure: `commit → all ok: backend_code 1 (floor: writes done), ${w}`,
            value: c.ok,
            unit: 'ms',
            floor: f.written,
            target: time,
          },
          {
            figure: `commit → all ok and pod_phase Running (floor: pods Running)`,
            value: c.okRunning,
            unit: 'ms',
            floor: f.running,
            target: time,
          },
          {
            figure: 'commit → all pods Running in the apiserver',
            value: c.podsRunning,
            unit: 'ms',
            floor: f.running,
            target: time,
          },
          { figure: 'commit → all ports ok (interfaces reported)', value: c.portsOk, unit: 'ms' },
          {
            figure: `apiserver requests per idle resync (floor: at N=${String(SMALL_N)})`,
            value: resync.requests,
            unit: 'requests',
            floor: small.requests,
            target: time,
          },
          { figure: 'idle resync: time until idle again', value: resync.ms, unit: 'ms' },
          {
            figure: 'edit → pod p50: image, pod replaced (floor: direct replacement)',
            value: median(times.syncord),
            unit: 'ms',
            floor: median(times.replace),
          },
          {
            figure: 'edit → pod p99: image, pod replaced (floor: direct replacement)',
            value: percentile(times.syncord, 99),
            unit: 'ms',
            floor: percentile(times.replace, 99),
          },
          {
            figure: 'direct in-place apply of the image p50 (reference)',
            value: median(times.inPlace),
            unit: 'ms',
          },
          {
            figure: 'direct in-place apply of the image p99 (reference)',
            value: percentile(times.inPlace, 99),
            unit: 'ms',
          },
        ];
      } finally {
        await side.stop();
        await svc.close();
      }
    });
  } finally {
    await floor?.tracker.stop();
    for (const name of made.reverse()) {
      await kube.deleteNamespace(name, log).catch((err: unknown) => {
        log(`could not delete namespace ${name}: ${errorText(err)}`);
      });
    }
    await restoreRoom();
  }
}

export const convergeBenchmark: Benchmark = {
  name: 'converge',
  summary: 'N VNF instances (3 interfaces each) converged into the rig vs direct Kubernetes writes',
  defaultScale: 200,
  defaultScales: [200, 1000],
  run,
};
