// `npm run bench -- chain`: the whole chain (issue 12). N VNF instances (container workload), each
// with three Ports on three Networks (provider ovn, with VNIs), written as a TOSCA recipe and
// applied in-process as `syncord tosca apply` does, reconciled by an engine with the default steps
// for Kubernetes, OVN and VTN into the rig: a pod per instance with its NADs, OVN logical switches,
// router ports and switch ports, VTN service networks and ports (and, once the pods run, VTN hosts).
// The floor writes the same backend objects with tight direct clients, the three backends at
// once, and each pod's VTN hosts as soon as it runs (a host names its pod's node).
//
// - converge: from the start of the TOSCA apply (parse, check, one transaction) until every
//   instance, Port and Network has backend_code 1 at its version; also until every pod is Running
//   (the bench's watch) and every OVN port is bound in the southbound. The floor is timed from its
//   first write until its last one returned, the hosts included (and until its pods are Running
//   and its ports bound).
//   Both sides must leave the same number of pods, NADs, OVN rows and VTN networks and ports.
// - edit → backend: at idle, edits of one Network field that lands in one backend without
//   replacing a pod (exclude_ips → the OVN switch's other_config; type, between two unrouted
//   types, → the VTN service network), each timed from the commit until the backend shows the
//   value (a northbound monitor; a VTN Watch), against one direct write of the same change, timed
//   the same way. The two sides take turns edit by edit.
//
// Each side has its own deployment name (`syncord-instance`, label and annotations), namespace,
// network names and VNIs; everything is removed at the end, also when the run fails.
import { EventEmitter, once } from 'node:events';
import { PerformanceObserver } from 'node:perf_hooks';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { OvsdbClient, update, type Monitor } from '../backends/ovn/ovsdb.js';
import { asStringMap } from '../backends/ovn/values.js';
import { VtnClient } from '../backends/vtn/client.js';
import type { HostDetectedRequest } from '../backends/vtn/generated/cordvtn/HostDetectedRequest.js';
import type { ServicePort } from '../backends/vtn/generated/cordvtn/ServicePort.js';
import type { WatchEvent__Output } from '../backends/vtn/generated/cordvtn/WatchEvent.js';
import { defaultRegistry } from '../models/index.js';
import type { Registry } from '../models/registry.js';
import { ModelService, type ModelObject } from '../models/service.js';
import { applyRecipes, type Outcome } from '../tosca/apply.js';
import { parseRecipe } from '../tosca/parse.js';
import { kubernetesStepSet, type KubernetesSteps } from '../steps/kubernetes/index.js';
import { podNameOf } from '../steps/kubernetes/pod.js';
import { planOf as ovnPlanOf } from '../steps/ovn/network.js';
import { addressOf } from '../steps/ovn/port.js';
import {
  ovnStepSet,
  OvnRuntime,
  portName,
  registerOvnDeployment,
  switchName,
  type OvnSteps,
} from '../steps/ovn/index.js';
import { serviceNetworkOf, type WantedNetwork } from '../steps/vtn/network.js';
import { hostOf } from '../steps/vtn/port.js';
import {
  marks,
  vtnNetworkId,
  vtnPortId,
  vtnStepSet,
  VtnRuntime,
  type VtnSteps,
} from '../steps/vtn/index.js';
import type { SyncStep } from '../synchronizer/engine.js';
import {
  countObjects,
  FloorSide,
  floorPlanOf,
  Kube,
  PodTracker,
  shapeOf,
  type FloorPlan,
} from './converge.js';
import {
  CpuMeter,
  forEachBounded,
  Gate,
  median,
  now,
  percentile,
  positiveEnv,
  seconds,
  sleep,
  untilIdle,
  withEngine,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type EngineRun,
  type Figure,
} from './harness.js';
import {
  countRows,
  purgeInstance,
  SouthboundBindings,
  writeOvnFloor,
  type FloorNetwork,
} from './ovn.js';
import { FLOOR_IN_FLIGHT, purgeVtn } from './vtn.js';

/** Workers, as `syncord serve` runs by default; SYNCORD_BENCH_WORKERS overrides. */
const DEFAULT_WORKERS = 8;
/** Instances per group; each group has its three networks (a /24 each). */
const GROUP = 100;
/**
 * An instance's interfaces: one on each of its group's networks. The management network is not
 * routed (no port on the deployment's router), the two others are.
 */
const NETWORK_PLAN = [
  { suffix: 'mgmt', type: 'MANAGEMENT_LOCAL' },
  { suffix: 'data', type: 'PRIVATE' },
  { suffix: 'ctrl', type: 'PRIVATE' },
] as const;
/** The edits' rounds (each: one OVN and one VTN edit per side), and fewer below N = 100. */
const EDITS = 30;
const SMALL_EDITS = 10;
/** The VTN edit switches the management network between these two (unrouted: OVN is unchanged). */
const VTN_TYPES = ['MANAGEMENT_HOST', 'MANAGEMENT_LOCAL'] as const;
const POLL_MS = 20;
/** The engine counts as idle once its queue was empty with no worker busy for this long. */
const QUIET_MS = 300;
const INSTANCE_MODEL = 'VNFServiceInstance';
const NB = 'OVN_Northbound';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// The recipe.

/** One side's names: its deployment, namespace, prefix of its model names, and VNIs. */
interface Side {
  instance: string;
  namespace: string;
  prefix: string;
  /** The k-th network's VNI. */
  vni: (k: number) => number;
}

const groupsOf = (n: number): number => Math.ceil(n / GROUP);
const subnetOf = (k: number): string =>
  `10.${String(80 + Math.floor(k / 256))}.${String(k % 256)}.0/24`;
const networkName = (side: Side, g: number, suffix: string): string =>
  `${side.prefix}-g${String(g)}-${suffix}`;

/**
 * The recipe an operator would write for N instances: a site, a VNF service, its trust domain
 * (the namespace) and slice, an image and a flavor (memory only: kwok's nodes have 32 CPUs each,
 * and a CPU request per pod would fill them), 3 networks per group of GROUP instances, and each
 * instance with a Port on each of its group's networks.
 */
function chainRecipe(side: Side, n: number): string {
  const p = side.prefix;
  const belongs = (field: string, node: string) => [
    `        - ${field}:`,
    `            node: ${node}`,
    '            relationship: tosca.relationships.BelongsToOne',
  ];
  const lines = [
    'tosca_definitions_version: tosca_simple_yaml_1_0',
    `description: ${String(n)} VNF instances with three interfaces each (generated by bench/chain.ts)`,
    'imports:',
    ...[
      'site',
      'vnfservice',
      'trustdomain',
      'slice',
      'network',
      'image',
      'flavor',
      'vnfserviceinstance',
      'port',
    ].map((t) => `  - custom_types/${t}.yaml`),
    '',
    'topology_template:',
    '  node_templates:',
    `    site#${p}-site:`,
    '      type: tosca.nodes.Site',
    `    service#${p}-vnf:`,
    '      type: tosca.nodes.VNFService',
    '      properties:',
    '        vendor: acme',
    `    trustdomain#${side.namespace}:`,
    '      type: tosca.nodes.TrustDomain',
    '      requirements:',
    ...belongs('owner', `service#${p}-vnf`),
    `    slice#${p}-slice:`,
    '      type: tosca.nodes.Slice',
    '      requirements:',
    ...belongs('site', `site#${p}-site`),
    ...belongs('trust_domain', `trustdomain#${side.namespace}`),
    ...belongs('service', `service#${p}-vnf`),
    '    image#registry.example/chain/vnf:',
    '      type: tosca.nodes.Image',
    '      properties:',
    "        tag: '1.0'",
    `    flavor#${p}-small:`,
    '      type: tosca.nodes.Flavor',
    '      properties:',
    '        memory_mb: 64',
  ];
  for (let g = 0; g < groupsOf(n); g++) {
    NETWORK_PLAN.forEach((plan, j) => {
      const k = g * NETWORK_PLAN.length + j;
      lines.push(
        `    network#${networkName(side, g, plan.suffix)}:`,
        '      type: tosca.nodes.Network',
        '      properties:',
        `        subnet: ${subnetOf(k)}`,
        `        type: ${plan.type}`,
        `        segment_id: ${String(side.vni(k))}`,
        '      requirements:',
        ...belongs('owner', `slice#${p}-slice`),
      );
    });
  }
  for (let i = 0; i < n; i++) {
    const si = `${p}-vnf-${String(i)}`;
    lines.push(
      `    ${si}:`,
      `      type: tosca.nodes.${INSTANCE_MODEL}`,
      '      properties:',
      `        name: ${si}`,
      '      requirements:',
      ...belongs('owner', `service#${p}-vnf`),
      ...belongs('slice', `slice#${p}-slice`),
      ...belongs('image', 'image#registry.example/chain/vnf'),
      ...belongs('flavor', `flavor#${p}-small`),
    );
    NETWORK_PLAN.forEach((plan, j) => {
      lines.push(
        `    ${si}-net${String(j + 1)}:`,
        '      type: tosca.nodes.Port',
        '      properties:',
        `        interface_name: net${String(j + 1)}`,
        '      requirements:',
        '        - network:',
        `            node: network#${networkName(side, Math.floor(i / GROUP), plan.suffix)}`,
        '        - service_instance:',
        `            node: ${si}`,
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

/** What a side's recipe made, by model, in id order. */
interface Made {
  td: ModelObject;
  networks: ModelObject[];
  instances: ModelObject[];
  ports: ModelObject[];
}

async function madeBy(svc: ModelService, outcomes: readonly Outcome[]): Promise<Made> {
  const of = async (model: string) =>
    (
      await svc.getMany(
        model,
        outcomes.filter((o) => o.model === model && o.id !== null).map((o) => o.id!),
      )
    ).sort((a, b) => a.id - b.id);
  const [td] = await of('TrustDomain');
  if (!td) throw new Error('the recipe made no trust domain');
  return {
    td,
    networks: await of('Network'),
    instances: await of(INSTANCE_MODEL),
    ports: await of('Port'),
  };
}

/** The number of templates of the recipe at N: 6 shared, 3 networks a group, 4 per instance. */
const templatesOf = (n: number): number =>
  6 + groupsOf(n) * NETWORK_PLAN.length + n * (1 + NETWORK_PLAN.length);

// ---------------------------------------------------------------------------------------------
// The floor: the same objects, written directly.

interface FloorWorld {
  kube: FloorPlan;
  ovn: FloorNetwork[];
  vtnNetworks: WantedNetwork[];
  vtnPorts: ServicePort[];
  /** Its ports' logical switch port names (for the southbound). */
  lsps: Set<string>;
  /** The networks, to edit. */
  networks: ModelObject[];
  /**
   * Per pod name, the VTN hosts of its ports once it runs on a node: VTN's host records name the
   * node (the connect point), so they can only be written when the pod is Running, by the floor
   * as by the VTN port step (whose `hostOf` builds them).
   */
  hosts: Map<string, (node: string) => HostDetectedRequest[]>;
}

/** The VTN service port a Port becomes, as the VTN port step sends it. */
function servicePortOf(instance: string, port: ModelObject): ServicePort {
  return {
    id: vtnPortId(instance, port.id),
    network_id: vtnNetworkId(instance, port.network_id as number),
    name: portName(instance, port.id),
    mac_address: String(port.mac),
    ip_address: String(port.ip),
    floating_address_pairs: [],
    annotations: marks(instance, { model: 'Port', id: port.id }),
  };
}

/**
 * The floor's objects, before its clock: the same recipe applied in a scratch database of the
 * floor's own, then the pods, NADs and namespace built by the Kubernetes steps' planners, the OVN
 * rows by the OVN network step's plan, the VTN networks by the VTN network step's.
 */
async function prepareFloor(
  ctx: BenchContext,
  registry: Registry,
  side: Side,
  vtnAddress: string,
  workers: number,
): Promise<FloorWorld> {
  return withMigratedScratch(ctx.serverUrl, registry, async (url) => {
    const svc = new ModelService(url, registry, { poolSize: workers });
    const vtnRt = new VtnRuntime({ address: vtnAddress, instance: side.instance });
    // The pods name the logical switch port their CNI binds only for a deployment whose OVN
    // steps run here: as they would for the floor's.
    const unregister = registerOvnDeployment(side.instance);
    try {
      const outcomes = await applyRecipes(svc, registry, [
        parseRecipe(chainRecipe(side, ctx.n), 'chain-floor.yaml', registry),
      ]);
      const made = await madeBy(svc, outcomes);
      const kube = await floorPlanOf(
        svc,
        side.instance,
        made.td,
        made.networks,
        made.instances,
        workers,
      );
      const byNetwork = new Map<number, FloorNetwork>(
        made.networks.map((network) => [network.id, { model: network, ports: [] }]),
      );
      for (const port of made.ports) {
        byNetwork.get(port.network_id as number)!.ports.push({
          id: port.id,
          address: addressOf(port),
        });
      }
      const vtnNetworks: WantedNetwork[] = [];
      for (const network of made.networks) {
        const want = await serviceNetworkOf(vtnRt, svc, network);
        if (typeof want === 'string') throw new Error(`floor network ${network.id}: ${want}`);
        vtnNetworks.push(want);
      }
      const networkById = new Map(made.networks.map((network) => [network.id, network]));
      const hosts = new Map<string, (node: string) => HostDetectedRequest[]>();
      for (const instance of made.instances) {
        const mine = made.ports.filter((port) => port.service_instance_id === instance.id);
        // hostOf takes only the deployment's name from the runtime (no call).
        hosts.set(podNameOf(instance), (node) =>
          mine.map((port) =>
            hostOf(vtnRt, port, networkById.get(port.network_id as number)!, node),
          ),
        );
      }
      return {
        kube,
        hosts,
        ovn: [...byNetwork.values()],
        vtnNetworks,
        vtnPorts: made.ports.map((port) => servicePortOf(side.instance, port)),
        lsps: new Set(made.ports.map((port) => portName(side.instance, port.id))),
        networks: made.networks,
      };
    } finally {
      unregister();
      vtnRt.close();
      await svc.close();
    }
  });
}

/** What one side left in the backends. */
interface Counts {
  pods: number;
  nads: number;
  ovn: Record<string, number>;
  vtnNetworks: number;
  vtnPorts: number;
  vtnHosts: number;
}

async function countAll(kube: Kube, nb: OvsdbClient, vtn: VtnClient, side: Side): Promise<Counts> {
  const mine = { 'syncord-instance': side.instance };
  const k = await countObjects(kube, side.namespace);
  return {
    pods: k.pods,
    nads: k.nads,
    ovn: await countRows(nb, side.instance),
    vtnNetworks: (await vtn.listNetworks(mine)).length,
    vtnPorts: (await vtn.listPorts(mine)).length,
    vtnHosts: (await vtn.listHosts(mine)).length,
  };
}

const describeCounts = (c: Counts): string =>
  `${String(c.pods)} pods, ${String(c.nads)} NADs; OVN ${Object.entries(c.ovn)
    .map(([t, n]) => `${t} ${String(n)}`)
    .join(
      ', ',
    )}; VTN ${String(c.vtnNetworks)} networks, ${String(c.vtnPorts)} ports, ${String(c.vtnHosts)} hosts`;

interface FloorResult {
  /** From the first write until the last one returned (the VTN hosts included), ms. */
  written: number;
  /** Each backend's writes, ms from the start (vtn: networks and ports; hosts: the last host). */
  kubernetes: number;
  ovn: number;
  vtn: number;
  hosts: number;
  /** Until every pod is Running (the watch), and every port bound in the southbound. */
  running: number;
  bound: number | undefined;
  cpu: string;
  counts: Counts;
  /** What a floor pod looks like (for the comparison with Syncord's). */
  shape: string;
}

async function runFloor(
  ctx: BenchContext,
  kube: Kube,
  world: FloorWorld,
  floorSide: FloorSide,
  side: Side,
  nb: OvsdbClient,
  vtn: VtnClient,
  sb: SouthboundBindings | undefined,
  nbEndpoint: string,
  workers: number,
): Promise<FloorResult> {
  const { log, n } = ctx;
  const ovnRt = new OvnRuntime({ nbEndpoint, instance: side.instance });
  await floorSide.tracker.start();
  await vtn.waitForReady();
  log(
    `floor: namespace, ${String(world.kube.nads.length)} NADs and ${String(n)} pods (${String(workers)} at a time), ` +
      `${String(world.ovn.length)} OVN switch transactions (${String(workers)} in flight), ` +
      `${String(world.vtnNetworks.length)} VTN networks and ${String(world.vtnPorts.length)} ports ` +
      `(${String(FLOOR_IN_FLIGHT)} in flight): the three backends at once`,
  );
  // The VTN hosts of each pod's ports, as soon as the watch shows it Running on its node.
  const hostWrites: Promise<void>[] = [];
  const gate = new Gate(FLOOR_IN_FLIGHT);
  floorSide.tracker.onRunning = (pod) => {
    const hostsOf = world.hosts.get(pod.metadata?.name ?? '');
    if (!hostsOf) return;
    for (const host of hostsOf(pod.spec?.nodeName ?? 'unknown')) {
      hostWrites.push(gate.run(() => vtn.hostDetected(host).then(() => undefined)));
    }
  };
  const cpu = new CpuMeter();
  const t0 = now();
  const done = { kubernetes: 0, ovn: 0, vtn: 0, hosts: 0 };
  await Promise.all([
    floorSide.write(workers).then(() => (done.kubernetes = now() - t0)),
    writeOvnFloor(nb, ovnRt, world.ovn, workers).then(() => (done.ovn = now() - t0)),
    (async () => {
      await forEachBounded(world.vtnNetworks, FLOOR_IN_FLIGHT, async (net) => {
        await vtn.putNetwork(net);
      });
      await forEachBounded(world.vtnPorts, FLOOR_IN_FLIGHT, async (port) => {
        await vtn.putPort(port);
      });
      done.vtn = now() - t0;
    })(),
  ]);
  const tracker = floorSide.tracker;
  const running =
    (await tracker.until(
      `${String(n)} floor pods Running`,
      () => tracker.runningCount >= n,
      120_000 + n * 1000,
    )) - t0;
  await Promise.all(hostWrites);
  floorSide.tracker.onRunning = undefined;
  done.hosts = now() - t0;
  const written = now() - t0;
  const cpuReport = cpu.report('the floor clients');
  const bound = sb ? (await sb.until(world.lsps, 'floor')) - t0 : undefined;
  const first = tracker.pod(world.kube.plans[0]!.name);
  return {
    written,
    ...done,
    running,
    bound,
    cpu: cpuReport,
    counts: await countAll(kube, nb, vtn, side),
    shape: first ? shapeOf(first) : 'none',
  };
}

/** Removes the floor's objects before Syncord runs, so that both start alike (its namespace stays until the end). */
async function clearFloor(
  kube: Kube,
  floorSide: FloorSide,
  world: FloorWorld,
  side: Side,
  vtn: VtnClient,
  sb: SouthboundBindings | undefined,
  nbEndpoint: string,
): Promise<void> {
  await kube.core.deleteCollectionNamespacedPod({
    namespace: side.namespace,
    gracePeriodSeconds: 0,
  });
  await purgeInstance(nbEndpoint, side.instance);
  await purgeVtn(vtn, side.instance);
  await floorSide.tracker.until(
    'the floor pods deleted',
    () => floorSide.tracker.size === 0,
    600_000,
  );
  if (sb) await sb.untilNone(world.lsps, 'floor cleanup');
}

// ---------------------------------------------------------------------------------------------
// Seeing the edits land: OVN switches from a northbound monitor, VTN networks from a Watch.

/** The exclude_ips of a switch as the northbound monitor shows it. */
function excludeIpsOf(monitor: Monitor, name: string): string | undefined {
  const ls = monitor.find('Logical_Switch', (row) => row.name === name);
  return ls ? asStringMap(ls.other_config).exclude_ips : undefined;
}

/** The VTN server's service network types, kept from a Watch of the bench's own. */
class VtnTypes extends EventEmitter {
  private readonly types = new Map<string, string>();
  private synced = false;

  private constructor(private readonly stream: ClientReadableStream<WatchEvent__Output>) {
    super();
    stream.on('data', (e: WatchEvent__Output) => {
      if (e.type === 'SYNCED') this.synced = true;
      else if (e.network) {
        if (e.type === 'REMOVED') this.types.delete(e.network.id);
        else this.types.set(e.network.id, e.network.type);
      }
      this.emit('change');
    });
    stream.on('error', () => undefined); // cancelled at the end
  }

  static async open(client: VtnClient): Promise<VtnTypes> {
    const w = new VtnTypes(client.watch(true));
    await w.until('the VTN watch synced', () => w.synced);
    return w;
  }

  /** Resolves with now() once `check` holds after an event (at once if it does). */
  async until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<number> {
    const signal = AbortSignal.timeout(timeoutMs);
    while (!check()) {
      try {
        await once(this, 'change', { signal });
      } catch {
        throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
      }
    }
    return now();
  }

  typeOf(id: string): string | undefined {
    return this.types.get(id);
  }

  close(): void {
    this.stream.cancel();
  }
}

// ---------------------------------------------------------------------------------------------
// Syncord: the engine with the default steps for Kubernetes, OVN and VTN.

interface ChainSet {
  steps: SyncStep[];
  ovn: OvnSteps;
  kube: KubernetesSteps;
  vtn: VtnSteps;
}

/** The steps of `defaultSteps` for these three backends, in its order (OVN, Kubernetes, VTN). */
function chainSet(
  instance: string,
  nbEndpoint: string,
  sbEndpoint: string | undefined,
  address: string,
  log: (line: string) => void,
): ChainSet {
  const ovn = ovnStepSet({ nbEndpoint, ...(sbEndpoint ? { sbEndpoint } : {}), instance, log });
  const kube = kubernetesStepSet({ instance, sweepMs: 0, log });
  const vtn = vtnStepSet({ address, instance, sweepMs: 24 * 3600_000, log });
  return { steps: [...ovn.steps, ...kube.steps, ...vtn.steps], ovn, kube, vtn };
}

interface Converged {
  /** ms from the start of the apply. */
  applied: number;
  parsed: number;
  ok: number;
  /** When each kind was all ok, ms. */
  namespaceOk: number | undefined;
  networksOk: number;
  instancesOk: number;
  portsOk: number;
  podsRunning: number;
  bound: number | undefined;
  cpu: string;
  made: Made;
}

async function progress(
  run: EngineRun<ChainSet>,
): Promise<{ instances: number; ports: number; networks: number; namespaces: number }> {
  const r = await run.sql.query<{
    instances: number;
    ports: number;
    networks: number;
    namespaces: number;
  }>(
    `SELECT
       (SELECT count(*) FROM trust_domain WHERE deleted_at IS NULL
          AND backend_code = 1 AND synced_version = version)::int AS namespaces,
       (SELECT count(*) FROM service_instance WHERE leaf_model = $1 AND deleted_at IS NULL
          AND backend_code = 1 AND synced_version = version)::int AS instances,
       (SELECT count(*) FROM port WHERE deleted_at IS NULL
          AND backend_code = 1 AND synced_version = version)::int AS ports,
       (SELECT count(*) FROM network WHERE deleted_at IS NULL
          AND backend_code = 1 AND synced_version = version)::int AS networks`,
    [INSTANCE_MODEL],
  );
  return r.rows[0]!;
}

async function stuck(run: EngineRun<ChainSet>): Promise<string> {
  const r = await run.sql.query<{ kind: string; name: string; why: string }>(
    `(SELECT 'instance' AS kind, name, backend_status AS why FROM service_instance
        WHERE leaf_model = $1 AND NOT (backend_code = 1 AND synced_version = version) LIMIT 2)
     UNION ALL
     (SELECT 'port', interface_name, backend_status FROM port
        WHERE NOT (backend_code = 1 AND synced_version = version) LIMIT 2)
     UNION ALL
     (SELECT 'network', name, backend_status FROM network
        WHERE NOT (backend_code = 1 AND synced_version = version) LIMIT 2)`,
    [INSTANCE_MODEL],
  );
  return r.rows.map((row) => `${row.kind} ${row.name}: ${row.why}`).join('; ');
}

async function converge(
  ctx: BenchContext,
  run: EngineRun<ChainSet>,
  side: Side,
  tracker: PodTracker,
  sb: SouthboundBindings | undefined,
): Promise<Converged> {
  const { log, n } = ctx;
  const registry = run.svc.registry;
  const text = chainRecipe(side, n);
  const networks = groupsOf(n) * NETWORK_PLAN.length;
  const ports = n * NETWORK_PLAN.length;
  log(
    `syncord: applying a recipe of ${String(templatesOf(n))} templates (${String(Math.round(text.length / 1024))} KiB): ` +
      `${String(n)} instances, ${String(ports)} ports, ${String(networks)} networks`,
  );
  run.tally.reset();
  const cpu = new CpuMeter();
  const t0 = now();
  const recipe = parseRecipe(text, 'chain.yaml', registry);
  const parsed = now() - t0;
  const outcomes = await applyRecipes(run.svc, registry, [recipe]);
  const applied = now() - t0;
  const created = outcomes.filter((o) => o.action === 'created').length;
  if (created !== templatesOf(n)) {
    const other = outcomes.find((o) => o.action !== 'created');
    throw new Error(
      `the recipe created ${String(created)} objects, not ${String(templatesOf(n))}` +
        (other ? ` (e.g. ${other.template}: ${other.action})` : ''),
    );
  }
  const timeoutMs = 120_000 + n * 1000;
  const lsps = new Set(
    outcomes.filter((o) => o.model === 'Port').map((o) => portName(side.instance, o.id!)),
  );
  let failed: Error | undefined;
  const settle = (p: Promise<number>) => {
    const out = p.then((t) => t - t0);
    out.catch((err: unknown) => (failed = err instanceof Error ? err : new Error(String(err))));
    return out;
  };
  const podsRunning = settle(
    tracker.until(`${String(n)} pods Running`, () => tracker.runningCount >= n, timeoutMs),
  );
  const bound = sb ? settle(sb.until(lsps, 'syncord')) : undefined;
  const marks: Partial<Record<'namespace' | 'networks' | 'instances' | 'ports', number>> = {};
  let lastLog = now();
  for (;;) {
    const p = await progress(run);
    const t = now();
    if (p.namespaces >= 1) marks.namespace ??= t - t0;
    if (p.networks >= networks) marks.networks ??= t - t0;
    if (p.instances >= n) marks.instances ??= t - t0;
    if (p.ports >= ports) marks.ports ??= t - t0;
    if (failed !== undefined) throw failed;
    if (
      marks.networks !== undefined &&
      marks.instances !== undefined &&
      marks.ports !== undefined
    ) {
      break;
    }
    if (t - lastLog >= 5000) {
      lastLog = t;
      log(
        `  ${seconds(t - t0)}: ${String(p.networks)}/${String(networks)} networks, ${String(p.instances)}/${String(n)} ` +
          `instances, ${String(p.ports)}/${String(ports)} ports ok; ${String(tracker.runningCount)} pods Running; ` +
          `queue ${String(run.engine.queue.depth)}`,
      );
    }
    if (t - t0 > timeoutMs) {
      throw new Error(`syncord did not converge in ${seconds(t - t0)}; e.g. ${await stuck(run)}`);
    }
    await sleep(POLL_MS);
  }
  const ok = Math.max(marks.networks, marks.instances, marks.ports);
  const cpuReport = cpu.report("the engine and the bench's polls and watches");
  return {
    applied,
    parsed,
    ok,
    namespaceOk: marks.namespace,
    networksOk: marks.networks,
    instancesOk: marks.instances,
    portsOk: marks.ports,
    podsRunning: await podsRunning,
    bound: bound && (await bound),
    cpu: cpuReport,
    made: await madeBy(run.svc, outcomes),
  };
}

// ---------------------------------------------------------------------------------------------
// The edits.

interface EditTimes {
  ovn: number[];
  vtn: number[];
  floorOvn: number[];
  floorVtn: number[];
  /**
   * Syncord's edits in parts: from the commit until the change watch queues the Network, from
   * then until the network step starts on it, from then until the value is seen; and the step's
   * whole run (it may end after the value shows).
   */
  phases: Record<
    'ovn' | 'vtn',
    { queued: number[]; started: number[]; seen: number[]; step: number[] }
  >;
  /** Garbage collection in the bench's process (the engine's) during the edits. */
  gc: { count: number; ms: number; longest: number };
  /** The changes committed during the edits (what the change watch had to go through), by kind. */
  changes: string;
}

/** The exclude_ips of the i-th edit: two ranges at the top of the /24, in turn. */
function excludeValue(network: ModelObject, i: number): string {
  const subnet = String(network.subnet);
  const base = subnet.slice(0, subnet.lastIndexOf('.'));
  const from = 200 + (i % 2) * 10;
  return `${base}.${String(from)}..${base}.${String(from + 9)}`;
}

async function edits(
  ctx: BenchContext,
  run: EngineRun<ChainSet>,
  syncord: { side: Side; networks: ModelObject[] },
  floor: { side: Side; world: FloorWorld },
  nb: OvsdbClient,
  vtn: VtnClient,
  nbEndpoint: string,
  count: number,
): Promise<EditTimes> {
  const { log } = ctx;
  const byName = (networks: readonly ModelObject[], s: Side, suffix: string) =>
    networks.find((net) => net.name === networkName(s, 0, suffix))!;
  // Syncord's targets and the floor's: group 0's data network (OVN) and management network (VTN).
  const target = {
    ovn: byName(syncord.networks, syncord.side, 'data'),
    vtn: byName(syncord.networks, syncord.side, 'mgmt'),
    floorOvn: byName(floor.world.networks, floor.side, 'data'),
    floorVtn: byName(floor.world.networks, floor.side, 'mgmt'),
  };
  // The floor's targets again (the floor's objects went before Syncord ran), untimed.
  const floorRt = new OvnRuntime({ nbEndpoint, instance: floor.side.instance });
  await writeOvnFloor(
    nb,
    floorRt,
    floor.world.ovn.filter((net) => net.model.id === target.floorOvn.id),
    1,
  );
  const floorVtnNet = floor.world.vtnNetworks.find(
    (net) => net.id === vtnNetworkId(floor.side.instance, target.floorVtn.id),
  )!;
  await vtn.putNetwork(floorVtnNet);
  await forEachBounded(
    floor.world.vtnPorts.filter((p) => p.network_id === floorVtnNet.id),
    FLOOR_IN_FLIGHT,
    async (p) => {
      await vtn.putPort(p);
    },
  );
  const monitor = await nb.monitor({ Logical_Switch: ['name', 'other_config'] });
  const types = await VtnTypes.open(vtn);
  const ovnRt = run.set.ovn.runtime;
  const wantExclude = (network: ModelObject, rt: OvnRuntime, i: number) =>
    ovnPlanOf(rt, { ...network, exclude_ips: excludeValue(network, i) }).otherConfig.exclude_ips!;
  const untilSwitch = (name: string, want: string) =>
    monitor.until(
      `switch ${name} excluding ${want}`,
      () => (excludeIpsOf(monitor, name) === want ? now() : undefined),
      60_000,
    );
  /** Until the Network is synced at its version and the engine idle (untimed, before the next edit). */
  const settled = async (network: ModelObject) => {
    for (;;) {
      const o = await run.svc.get('Network', network.id);
      if (o.backend_code === 1 && o.synced_version === network.version) break;
      await sleep(POLL_MS);
    }
    await untilIdle(run.engine, QUIET_MS);
  };
  const times: EditTimes = {
    ovn: [],
    vtn: [],
    floorOvn: [],
    floorVtn: [],
    phases: {
      ovn: { queued: [], started: [], seen: [], step: [] },
      vtn: { queued: [], started: [], seen: [], step: [] },
    },
    gc: { count: 0, ms: 0, longest: 0 },
    changes: '',
  };
  /**
   * One edit of Syncord's: the update, then until `visible` resolves (with the time it was seen);
   * the engine's report of `step` on the Network splits the time.
   */
  const syncordEdit = async (
    kind: 'ovn' | 'vtn',
    write: () => Promise<ModelObject>,
    visible: () => Promise<number>,
  ) => {
    let ran: { start: number; end: number } | undefined;
    let queued: number | undefined;
    const network = (kind === 'ovn' ? target.ovn : target.vtn).id;
    run.tally.listener = (step, outcome, s) => {
      if (step === `${kind}/network` && outcome === 'ok' && !ran) {
        ran = { start: now() - s * 1000, end: now() };
      }
    };
    const queue = run.engine.queue;
    const add = queue.add.bind(queue);
    queue.add = (key) => {
      if (key === `Network:${String(network)}`) queued ??= now();
      add(key);
    };
    try {
      const updated = await write();
      const t0 = now();
      const seen = await visible();
      times[kind].push(seen - t0);
      await settled(updated);
      if (ran && queued !== undefined) {
        const p = times.phases[kind];
        p.queued.push(queued - t0);
        p.started.push(ran.start - queued);
        p.seen.push(seen - ran.start);
        p.step.push(ran.end - ran.start);
      }
    } finally {
      run.tally.listener = undefined;
      queue.add = add;
    }
  };
  const floorSwitch = switchName(target.floorOvn);
  const floorConfig = ovnPlanOf(floorRt, target.floorOvn).otherConfig;
  const rounds: [() => Promise<void>, () => Promise<void>][] = [
    [
      async () => {
        const i = times.ovn.length;
        await syncordEdit(
          'ovn',
          () =>
            run.svc.update('Network', target.ovn.id, { exclude_ips: excludeValue(target.ovn, i) }),
          () => untilSwitch(switchName(target.ovn), wantExclude(target.ovn, ovnRt, i)),
        );
      },
      async () => {
        const i = times.floorOvn.length;
        const want = wantExclude(target.floorOvn, floorRt, i);
        const t0 = now();
        await nb.transact([
          update('Logical_Switch', [['name', '==', floorSwitch]], {
            other_config: { ...floorConfig, exclude_ips: want },
          }),
        ]);
        times.floorOvn.push((await untilSwitch(floorSwitch, want)) - t0);
      },
    ],
    [
      async () => {
        const type = VTN_TYPES[times.vtn.length % 2]!;
        const id = vtnNetworkId(syncord.side.instance, target.vtn.id);
        await syncordEdit(
          'vtn',
          () => run.svc.update('Network', target.vtn.id, { type }),
          () => types.until(`VTN network ${id} of type ${type}`, () => types.typeOf(id) === type),
        );
      },
      async () => {
        const type = VTN_TYPES[times.floorVtn.length % 2]!;
        const t0 = now();
        await vtn.putNetwork({ ...floorVtnNet, type });
        times.floorVtn.push(
          (await types.until(
            `VTN network ${floorVtnNet.id} of type ${type}`,
            () => types.typeOf(floorVtnNet.id) === type,
          )) - t0,
        );
      },
    ],
  ];
  const observers: PerformanceObserver[] = [];
  try {
    await untilIdle(run.engine, QUIET_MS);
    run.tally.reset();
    log(
      `edits: ${String(count)} rounds, each an OVN edit (Network ${String(target.ovn.name)} exclude_ips) and ` +
        `a VTN edit (Network ${String(target.vtn.name)} type ${VTN_TYPES.join('/')}), in turn with the floor`,
    );
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        times.gc.count++;
        times.gc.ms += e.duration;
        times.gc.longest = Math.max(times.gc.longest, e.duration);
      }
    });
    gc.observe({ entryTypes: ['gc'] });
    observers.push(gc);
    const since = (await run.sql.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
    const started = now();
    for (let i = 0; i < count; i++) {
      for (const pair of rounds) {
        const order = i % 2 ? [pair[1], pair[0]] : pair;
        for (const step of order) await step();
      }
    }
    log(`  the edits took ${seconds(now() - started)}, waits for idle included`);
    const changes = await run.sql.query<{ kind: string; n: number }>(
      `SELECT c.model || ' ' || c.op AS kind, count(*)::int AS n
         FROM syncord_change c JOIN syncord_txn t USING (txid)
        WHERE t.committed_at >= $1 GROUP BY 1 ORDER BY 2 DESC`,
      [since],
    );
    times.changes = changes.rows.map((r) => `${r.kind} ${String(r.n)}`).join(', ');
  } finally {
    for (const o of observers) o.disconnect();
    run.tally.listener = undefined;
    types.close();
  }
  return times;
}

// ---------------------------------------------------------------------------------------------

/**
 * Per step: its runs by outcome, and the time the workers spent in it (a batch's time counted
 * once; the steps of a batched model run on up to their batch's objects at once), for the log.
 */
function tallyLines(run: EngineRun<ChainSet>, per = 1, unit = ''): string[] {
  const digits = per > 1 ? 1 : 0;
  const runs = run.tally.entries();
  return run.tally.steps().map(([step, batches, s]) => {
    const mine = runs.filter(([key]) => key.startsWith(`${step} `));
    const outcomes = mine
      .map(([key, count]) => `${key.slice(step.length + 1)} ${(count / per).toFixed(digits)}`)
      .join(', ');
    const objects = mine.reduce((sum, [, count]) => sum + count, 0);
    return (
      `  ${step}: ${outcomes}${unit} in ${(batches / per).toFixed(digits)} ` +
      `${objects > batches ? 'batches' : 'runs'}, ${(s / per).toFixed(per > 1 ? 3 : 1)} s of the workers' time`
    );
  });
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  const nbEndpoint = process.env.OVN_NB_DB;
  const sbEndpoint = process.env.OVN_SB_DB || undefined;
  const address = process.env.SYNCORD_VTN_ADDRESS;
  if (!process.env.KUBECONFIG || !nbEndpoint || !address) {
    throw new Error(
      'chain needs the rig\'s Kubernetes, OVN and VTN (KUBECONFIG, OVN_NB_DB, SYNCORD_VTN_ADDRESS): eval "$(rig/rig env)" first',
    );
  }
  const workers = positiveEnv('SYNCORD_BENCH_WORKERS', DEFAULT_WORKERS);
  const editRounds = positiveEnv('SYNCORD_BENCH_EDITS', n >= GROUP ? EDITS : SMALL_EDITS);
  const registry = defaultRegistry();
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  // VNIs are global in VTN: this run's, in a range the other benchmarks and tests do not use.
  const vniBase = 14_000_000 + Math.floor(Math.random() * 256) * 8192;
  const sides = {
    syncord: {
      instance: `bch-${tag}`,
      namespace: `bench-ch-${tag}`,
      prefix: `bch-${tag}`,
      vni: (k: number) => vniBase + k,
    },
    floor: {
      instance: `bch-${tag}-floor`,
      namespace: `bench-ch-${tag}-floor`,
      prefix: `bch-${tag}f`,
      vni: (k: number) => vniBase + 4096 + k,
    },
  } satisfies Record<string, Side>;
  if (groupsOf(n) * NETWORK_PLAN.length > 4096) throw new Error(`${String(n)} instances: too many`);
  const kube = new Kube();
  const vtn = new VtnClient(address);
  let nb: OvsdbClient | undefined;
  let sb: SouthboundBindings | undefined;
  let floorSide: FloorSide | undefined;
  const trackers: PodTracker[] = [];
  const restoreRoom = await kube.ensurePodRoom(n + 10, log);
  try {
    log(
      `deployments ${sides.syncord.instance} and ${sides.floor.instance}; engine workers ${String(workers)}`,
    );
    nb = await OvsdbClient.connect(nbEndpoint, { database: NB, reconnect: false });
    sb = sbEndpoint ? await SouthboundBindings.open(sbEndpoint) : undefined;
    if (!sb) log('no OVN_SB_DB: the southbound figures are left out');

    // The floor.
    log('floor: applying the recipe in its own database and building its objects (untimed)');
    const world = await prepareFloor(ctx, registry, sides.floor, address, workers);
    floorSide = new FloorSide(kube, world.kube, log);
    trackers.push(floorSide.tracker);
    const floor = await runFloor(
      ctx,
      kube,
      world,
      floorSide,
      sides.floor,
      nb,
      vtn,
      sb,
      nbEndpoint,
      workers,
    );
    log(
      `floor: writes done in ${seconds(floor.written)} (Kubernetes ${seconds(floor.kubernetes)}, ` +
        `OVN ${seconds(floor.ovn)}, VTN networks and ports ${seconds(floor.vtn)}, VTN hosts ` +
        `${seconds(floor.hosts)} as the pods ran); pods Running in ${seconds(floor.running)}` +
        (floor.bound === undefined ? '' : `, ports bound in ${seconds(floor.bound)}`),
    );
    log(`  ${floor.cpu}`);
    log(`  left ${describeCounts(floor.counts)}`);
    await clearFloor(kube, floorSide, world, sides.floor, vtn, sb, nbEndpoint);
    log('floor: its pods, OVN rows and VTN objects removed before Syncord runs');

    // Syncord.
    const s = sides.syncord;
    const tracker = new PodTracker(kube.cluster, s.namespace, log);
    trackers.push(tracker);
    return await withEngine(
      ctx,
      registry,
      { instance: s.instance, workers },
      (remember) => chainSet(s.instance, nbEndpoint, sbEndpoint, address, remember),
      async (run) => {
        // As `syncord serve` stands before a change: connected, its watches synced, idle.
        const t = now();
        await run.set.ovn.runtime.northbound();
        await run.set.kube.observer.synced();
        while (!run.set.vtn.observer.synced) {
          if (now() - t > 30_000) {
            throw new Error(`the VTN watch did not sync: ${run.engineLog.join('; ')}`);
          }
          await sleep(POLL_MS);
        }
        await tracker.start();
        await untilIdle(run.engine, QUIET_MS);
        const c = await converge(ctx, run, s, tracker, sb);
        log(
          `syncord: applied in ${seconds(c.applied)} (parsed and checked in ${seconds(c.parsed)}); ` +
            `trust domain (namespace) ok at ${c.namespaceOk === undefined ? '-' : seconds(c.namespaceOk)}, ` +
            `networks at ${seconds(c.networksOk)}, instances at ${seconds(c.instancesOk)}, ports at ` +
            `${seconds(c.portsOk)}; pods Running at ${seconds(c.podsRunning)}` +
            (c.bound === undefined ? '' : `; ports bound at ${seconds(c.bound)}`),
        );
        log(`  ${c.cpu}`);
        log('  step runs until all ok:');
        for (const line of tallyLines(run)) log(line);
        await untilIdle(run.engine, QUIET_MS);
        const counts = await countAll(kube, nb!, vtn, s);
        log(`syncord: left ${describeCounts(counts)}`);
        const expected = {
          pods: n,
          nads: groupsOf(n) * NETWORK_PLAN.length,
          vtnPorts: n * NETWORK_PLAN.length,
          vtnHosts: n * NETWORK_PLAN.length,
        };
        if (
          describeCounts(counts) !== describeCounts(floor.counts) ||
          counts.pods !== expected.pods ||
          counts.nads !== expected.nads ||
          counts.vtnPorts !== expected.vtnPorts ||
          counts.vtnHosts !== expected.vtnHosts
        ) {
          throw new Error(
            `not the same work: syncord left ${describeCounts(counts)}; the floor ${describeCounts(floor.counts)}`,
          );
        }
        const mine = tracker.pod(podNameOf(c.made.instances[0]!));
        const shape = mine ? shapeOf(mine) : 'none';
        // Names aside: the NADs are named after each side's networks.
        if (shape !== floor.shape.replaceAll(`"${sides.floor.prefix}-`, `"${s.prefix}-`)) {
          throw new Error(
            `the floor's pods differ from Syncord's:\n  floor   ${floor.shape}\n  syncord ${shape}`,
          );
        }
        log('checked: both sides left the same objects in the three backends, pods alike');

        const times = await edits(
          ctx,
          run,
          { side: s, networks: c.made.networks },
          { side: sides.floor, world },
          nb!,
          vtn,
          nbEndpoint,
          editRounds,
        );
        const ms = (xs: number[]) =>
          `p50 ${median(xs).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
        log(
          `  OVN: syncord ${ms(times.ovn)}, floor ${ms(times.floorOvn)}; VTN: syncord ${ms(times.vtn)}, ` +
            `floor ${ms(times.floorVtn)}`,
        );
        const part = (xs: number[]) => (xs.length ? median(xs).toFixed(1) : '-');
        for (const kind of ['ovn', 'vtn'] as const) {
          const p = times.phases[kind];
          log(
            `  syncord's ${kind.toUpperCase()} edits, medians: commit → the change watch queues the ` +
              `Network ${part(p.queued)} ms → ${kind}/network starts on it ${part(p.started)} ms (a worker, ` +
              `the read, its dependencies${kind === 'vtn' ? ', ovn/network' : ''}) → the value seen ` +
              `${part(p.seen)} ms; the step's whole run ${part(p.step)} ms`,
          );
        }
        log(`  changes committed during the edits (the change watch reads each): ${times.changes}`);
        log(
          `  garbage collection in this process during the edits: ${String(times.gc.count)} pauses, ` +
            `${times.gc.ms.toFixed(0)} ms in all, the longest ${times.gc.longest.toFixed(1)} ms`,
        );
        log('  step runs per edit (each edit of a Network runs its ports and its pods again):');
        for (const line of tallyLines(run, 2 * editRounds, ' objects')) log(line);
        const errors = run.engineLog.filter((line) => /error|fail/i.test(line));
        if (errors.length) {
          log(`  ${String(errors.length)} engine log lines with errors, e.g. ${errors[0]!}`);
        }

        const time = { op: '<', ratio: 1.5 } as const;
        return [
          {
            figure: `TOSCA apply → all instances, Ports, Networks ok (floor: direct writes, 3 backends at once), ${String(workers)} workers`,
            value: c.ok,
            unit: 'ms',
            floor: floor.written,
            target: time,
          },
          {
            figure: 'of which the TOSCA apply (parse, check, one transaction)',
            value: c.applied,
            unit: 'ms',
          },
          {
            figure: 'TOSCA apply → all pods Running (floor: its pods Running)',
            value: c.podsRunning,
            unit: 'ms',
            floor: floor.running,
          },
          ...(c.bound !== undefined && floor.bound !== undefined
            ? [
                {
                  figure: 'TOSCA apply → every OVN port bound in the southbound (floor: the same)',
                  value: c.bound,
                  unit: 'ms',
                  floor: floor.bound,
                },
              ]
            : []),
          {
            figure: 'edit → OVN p50: Network exclude_ips (floor: one direct transaction)',
            value: median(times.ovn),
            unit: 'ms',
            floor: median(times.floorOvn),
            target: { op: '<', ratio: 3 },
          },
          {
            figure: 'edit → OVN p99',
            value: percentile(times.ovn, 99),
            unit: 'ms',
            floor: percentile(times.floorOvn, 99),
          },
          {
            figure: 'edit → VTN p50: Network type (floor: one UpdateNetwork)',
            value: median(times.vtn),
            unit: 'ms',
            floor: median(times.floorVtn),
            target: { op: '<', ratio: 3 },
          },
          {
            figure: 'edit → VTN p99',
            value: percentile(times.vtn, 99),
            unit: 'ms',
            floor: percentile(times.floorVtn, 99),
          },
        ];
      },
    );
  } finally {
    for (const t of trackers) await t.stop().catch(() => undefined);
    sb?.close();
    nb?.close();
    for (const side of Object.values(sides)) {
      await purgeInstance(nbEndpoint, side.instance).catch((err: unknown) => {
        log(`OVN cleanup of ${side.instance} failed: ${errorText(err)}`);
      });
      await purgeVtn(vtn, side.instance).catch((err: unknown) => {
        log(`VTN cleanup of ${side.instance} failed: ${errorText(err)}`);
      });
    }
    vtn.close();
    await Promise.all(
      Object.values(sides).map((side) =>
        kube.deleteNamespace(side.namespace, log).catch((err: unknown) => {
          log(`could not delete namespace ${side.namespace}: ${errorText(err)}`);
        }),
      ),
    );
    await restoreRoom();
    log('removed every object of the run');
  }
}

export const chainBenchmark: Benchmark = {
  name: 'chain',
  summary:
    'N VNF instances (pod + NADs + OVN ports + VTN records) from one TOSCA apply vs direct writes',
  defaultScale: 1000,
  run,
};
