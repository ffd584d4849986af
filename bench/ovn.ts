// `npm run bench -- ovn`: N Ports on N/100 Networks (default 5,000 on 50), reconciled into the
// rig's OVN northbound database by the engine with the OVN steps (issue 6), against a floor that
// sends the same rows directly with the repo's OvsdbClient, batched as a careful client would (one
// transaction per switch with its DHCP options, router port, switch-side router port and 100
// ports), and against `ovn-nbctl` run once per port (lsp-add, lsp-set-addresses,
// lsp-set-port-security in one command):
//
// - converge: from the commit of the models (the networks, one service instance per network and
//   N ports, one transaction) until every Network and Port has backend_code 1 at its version. The
//   floor is timed from its first transaction until its last one returned.
// - OVSDB transactions per converge: every `transact` the steps' northbound client sent (reads and
//   writes), against the floor's.
// - ms per port: each side's time over N; ovn-nbctl's over the ports it made (a sample, by default
//   NBCTL_SAMPLE, since each command is a process reading the database: see bench/README.md).
//
// Each side owns its rows by a unique `external_ids:syncord-instance` (and unique switch names);
// everything is removed at the end, also when the run fails.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  del,
  insert,
  namedUuid,
  OvsdbClient,
  select,
  type Monitor,
  type Operation,
} from '../backends/ovn/ovsdb.js';
import { defaultRegistry } from '../models/index.js';
import type { ModelObject } from '../models/service.js';
import { planOf } from '../steps/ovn/network.js';
import {
  NETWORK_KEY,
  ovnStepSet,
  OvnRuntime,
  ownerIds,
  portName,
  routerIds,
  routerPortName,
  switchRouterPortName,
  TYPE_KEY,
} from '../steps/ovn/index.js';
import {
  forEachBounded,
  now,
  CpuMeter,
  withEngine,
  positiveEnv,
  seconds,
  sleep,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

const exec = promisify(execFile);

/** Workers, as `syncord serve` runs by default; SYNCORD_BENCH_WORKERS overrides. */
const DEFAULT_WORKERS = 8;
const PORTS_PER_NETWORK = 100;
/** Rows per createMany call (all of them in one transaction). */
const BATCH = 500;
const POLL_MS = 20;
const CONVERGE_TIMEOUT_MS = 20 * 60_000;
/** Ports ovn-nbctl makes (one process each) unless SYNCORD_BENCH_NBCTL_PORTS says otherwise. */
const NBCTL_SAMPLE = 500;
const NB = 'OVN_Northbound';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The i-th network's subnet: a /24 each, 100 ports fit with room. */
function subnetOf(i: number): string {
  return `10.${String(64 + Math.floor(i / 256))}.${String(i % 256)}.0/24`;
}

/** Counts a client's transactions: read-only ones (selects) and the rest. */
class TransactCounter {
  reads = 0;
  writes = 0;

  constructor(client: OvsdbClient) {
    const transact = client.transact.bind(client);
    client.transact = ((ops: readonly Operation[], ...rest: unknown[]) => {
      if (ops.every((op) => op.op === 'select')) this.reads++;
      else this.writes++;
      return (transact as (...args: unknown[]) => Promise<unknown[]>)(ops, ...rest);
    }) as typeof client.transact;
  }

  get total(): number {
    return this.reads + this.writes;
  }

  reset(): void {
    this.reads = 0;
    this.writes = 0;
  }
}

/** Removes every northbound row a deployment owns (roots; OVN removes the rows they held). */
export async function purgeInstance(endpoint: string, instance: string): Promise<void> {
  const nb = await OvsdbClient.connect(endpoint, { database: NB, reconnect: false });
  try {
    const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
    await nb.transact([
      del('Logical_Switch', where),
      del('Logical_Router', where),
      del('DHCP_Options', where),
    ]);
  } finally {
    nb.close();
  }
}

/** How many rows of a table a deployment has (for checking that a side did its work). */
export async function countRows(
  nb: OvsdbClient,
  instance: string,
): Promise<Record<string, number>> {
  const where = [['external_ids', 'includes', { 'syncord-instance': instance }]] as const;
  const tables = [
    'Logical_Switch',
    'Logical_Switch_Port',
    'DHCP_Options',
    'Logical_Router',
    'Logical_Router_Port',
  ];
  const results = await nb.transact(tables.map((t) => select(t, where, ['_uuid'])));
  return Object.fromEntries(tables.map((t, i) => [t, results[i]?.rows.length ?? 0]));
}

/**
 * The southbound database's Port_Bindings, from a monitor: ovn-northd makes one per logical
 * switch port it has turned into flows, so "every port bound" is when OVN has taken the work in,
 * not just when the northbound write returned.
 */
export class SouthboundBindings {
  private constructor(
    private readonly client: OvsdbClient,
    private readonly monitor: Monitor,
  ) {}

  static async open(endpoint: string): Promise<SouthboundBindings> {
    const client = await OvsdbClient.connect(endpoint, {
      database: 'OVN_Southbound',
      reconnect: false,
    });
    return new SouthboundBindings(client, await client.monitor({ Port_Binding: ['logical_port'] }));
  }

  bound(names: ReadonlySet<string>): number {
    let n = 0;
    for (const row of this.monitor.rows('Port_Binding')) {
      if (typeof row.logical_port === 'string' && names.has(row.logical_port)) n++;
    }
    return n;
  }

  /** Waits until every named port is bound; the time it happened (bench clock). */
  async until(names: ReadonlySet<string>, what: string): Promise<number> {
    const start = now();
    for (;;) {
      const n = this.bound(names);
      if (n === names.size) return now();
      if (now() - start > CONVERGE_TIMEOUT_MS) {
        throw new Error(
          `${what}: ${String(n)} of ${String(names.size)} ports bound in the southbound`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /** Waits until none of the named ports is bound any more. */
  async untilNone(names: ReadonlySet<string>, what: string): Promise<void> {
    const start = now();
    while (this.bound(names) > 0) {
      if (now() - start > CONVERGE_TIMEOUT_MS) {
        throw new Error(`${what}: ports still bound in the southbound`);
      }
      await sleep(POLL_MS);
    }
  }

  close(): void {
    this.client.close();
  }
}

const portNames = (instance: string, n: number): Set<string> =>
  new Set(Array.from({ length: n }, (_, i) => portName(instance, i + 1)));

const describeRows = (rows: Record<string, number>): string =>
  Object.entries(rows)
    .map(([t, n]) => `${t} ${String(n)}`)
    .join(', ');

// ---------------------------------------------------------------------------------------------
// Syncord: the engine with the OVN steps.

interface SyncordResult {
  ms: number;
  /** From the commit until every port is bound in the southbound (with OVN_SB_DB). */
  boundMs: number | undefined;
  /** CPU used while it converged, by the machine and by command. */
  cpu: string;
  reads: number;
  writes: number;
  rows: Record<string, number>;
  outcomes: string;
}

async function runSyncord(
  ctx: BenchContext,
  nbEndpoint: string,
  instance: string,
  networks: number,
  workers: number,
  sb: SouthboundBindings | undefined,
): Promise<SyncordResult> {
  const { log, n } = ctx;
  const names = new Set<string>();
  const registry = defaultRegistry();
  return withEngine(
    ctx,
    registry,
    { instance, workers },
    (remember) => ovnStepSet({ nbEndpoint, instance, log: remember }),
    async ({ svc, sql, set, tally, service }) => {
      // Connected and monitored before the clock starts (serve is connected long before).
      const db = await set.runtime.northbound();
      const counter = new TransactCounter(db.client);
      await sleep(200);
      counter.reset();
      log(`syncord: committing ${String(networks)} networks and ${String(n)} ports`);
      const t0 = now();
      await svc.transaction(async (tx) => {
        const nets: ModelObject[] = await tx.createMany(
          'Network',
          Array.from({ length: networks }, (_, i) => ({
            name: `${instance}-net-${String(i)}`,
            subnet: subnetOf(i),
          })),
        );
        const sis: ModelObject[] = await tx.createMany(
          'ServiceInstance',
          nets.map((_, i) => ({ name: `${instance}-si-${String(i)}`, owner_id: service.id })),
        );
        const ports: Record<string, unknown>[] = [];
        for (let p = 0; p < n; p++) {
          const k = p % networks;
          ports.push({
            network_id: nets[k]!.id,
            service_instance_id: sis[k]!.id,
            interface_name: `p${String(Math.floor(p / networks))}`,
          });
        }
        for (let from = 0; from < ports.length; from += BATCH) {
          const made = await tx.createMany('Port', ports.slice(from, from + BATCH));
          for (const port of made) names.add(portName(instance, port.id));
        }
      });
      const committed = now();
      const bindings = sb?.until(names, 'syncord').then((t) => t - committed);
      bindings?.catch(() => undefined);
      const cpu = new CpuMeter();
      log(`syncord: committed in ${seconds(committed - t0)}; converging`);
      let lastLog = committed;
      // Progress every 5 s, or as often as SYNCORD_BENCH_PROGRESS_MS says (to see the curve).
      const progressMs = positiveEnv('SYNCORD_BENCH_PROGRESS_MS', 5000);
      for (;;) {
        const r = await sql.query<{ nets: number; ports: number }>(
          `SELECT
             (SELECT count(*) FROM network WHERE deleted_at IS NULL AND backend_code = 1
                AND synced_version = version)::int AS nets,
             (SELECT count(*) FROM port WHERE deleted_at IS NULL AND backend_code = 1
                AND synced_version = version)::int AS ports`,
        );
        const { nets, ports } = r.rows[0]!;
        if (nets === networks && ports === n) break;
        const t = now();
        if (t - lastLog > progressMs) {
          log(
            `syncord: ${String(nets)} networks and ${String(ports)} ports ok after ${seconds(t - committed)}`,
          );
          lastLog = t;
        }
        if (t - committed > CONVERGE_TIMEOUT_MS) {
          const stuck = await sql.query<{ backend_status: string }>(
            `SELECT backend_status FROM port WHERE deleted_at IS NULL
               AND NOT (backend_code = 1 AND synced_version = version) LIMIT 3`,
          );
          throw new Error(
            `syncord did not converge in ${seconds(t - committed)}: ${String(nets)} networks and ` +
              `${String(ports)} ports ok; e.g. ${stuck.rows.map((s) => s.backend_status).join('; ')}`,
          );
        }
        await sleep(POLL_MS);
      }
      const ms = now() - committed;
      const cpuReport = cpu.report('the engine, its OVSDB client and the bench');
      const reads = counter.reads;
      const writes = counter.writes;
      const rows = await countRows(db.client, instance);
      return {
        ms,
        boundMs: await bindings,
        reads,
        writes,
        rows,
        cpu: cpuReport,
        outcomes: tally.summary(),
      };
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The floor: the same rows, sent directly.

export interface FloorNetwork {
  model: ModelObject;
  ports: { id: number; address: string }[];
}

/** The floor's networks and ports, as plain model-like objects with ids of its own. */
function floorWorld(instance: string, networks: number, n: number): FloorNetwork[] {
  const out: FloorNetwork[] = Array.from({ length: networks }, (_, i) => {
    const subnet = subnetOf(i);
    const base = subnet.slice(0, subnet.lastIndexOf('.'));
    return {
      model: {
        id: i + 1,
        name: `${instance}-net-${String(i)}`,
        subnet,
        gateway: `${base}.1`,
        type: 'PRIVATE',
        provider: 'ovn',
        dhcp: true,
      } as unknown as ModelObject,
      ports: [],
    };
  });
  for (let p = 0; p < n; p++) {
    const k = p % networks;
    const net = out[k]!;
    const host = net.ports.length + 2;
    const subnet = String(net.model.subnet);
    const ip = `${subnet.slice(0, subnet.lastIndexOf('.'))}.${String(host)}`;
    const mac = `0a:58:${[p >> 16, (p >> 8) & 255, p & 255, k & 255]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(':')}`;
    net.ports.push({ id: p + 1, address: `${mac} ${ip}` });
  }
  return out;
}

/**
 * One network's transaction: switch, DHCP options, for a routed network (the step's plan says)
 * the router port and its peer, and its ports.
 */
function networkTransaction(rt: OvnRuntime, net: FloorNetwork, routerUuid: string): Operation[] {
  const network = net.model;
  const plan = planOf(rt, network);
  const owner = { model: 'Network', id: network.id };
  const lsp = (i: number) => namedUuid(`p${String(i)}`);
  const ops: Operation[] = [
    insert(
      'DHCP_Options',
      {
        cidr: plan.dhcp!.cidr,
        options: plan.dhcp!.options,
        external_ids: ownerIds(rt.instance, owner, 'dhcp'),
      },
      'dhcp',
    ),
  ];
  const routed: Operation[] = [
    insert(
      'Logical_Router_Port',
      {
        name: routerPortName(rt.instance, network.id),
        mac: plan.mac,
        networks: [`${plan.gateway}/${String(plan.subnet.prefix)}`],
        external_ids: { ...ownerIds(rt.instance, owner, 'router-port'), [TYPE_KEY]: plan.type },
      },
      'lrp',
    ),
    {
      op: 'mutate',
      table: 'Logical_Router',
      where: [['_uuid', '==', routerUuid]],
      mutations: [['ports', 'insert', [namedUuid('lrp')]]],
    },
    insert(
      'Logical_Switch_Port',
      {
        name: switchRouterPortName(rt.instance, network.id),
        type: 'router',
        addresses: ['router'],
        options: { 'router-port': routerPortName(rt.instance, network.id) },
        external_ids: ownerIds(rt.instance, owner, 'switch-router-port'),
      },
      'stor',
    ),
  ];
  if (plan.routed) ops.push(...routed);
  net.ports.forEach((p, i) => {
    ops.push(
      insert(
        'Logical_Switch_Port',
        {
          name: portName(rt.instance, p.id),
          addresses: [p.address],
          port_security: [p.address],
          dhcpv4_options: namedUuid('dhcp'),
          external_ids: {
            ...ownerIds(rt.instance, { model: 'Port', id: p.id }, 'port'),
            [NETWORK_KEY]: String(network.id),
          },
        },
        `p${String(i)}`,
      ),
    );
  });
  ops.push(
    insert('Logical_Switch', {
      name: plan.switchName,
      other_config: plan.otherConfig,
      external_ids: ownerIds(rt.instance, owner, 'switch'),
      ports: [...(plan.routed ? [namedUuid('stor')] : []), ...net.ports.map((_, i) => lsp(i))],
    }),
  );
  return ops;
}

/**
 * The floor's writes: one transaction for the deployment's router, then one per network (switch,
 * DHCP options, router port and peer, the network's ports), `inFlight` at a time.
 */
export async function writeOvnFloor(
  nb: OvsdbClient,
  rt: OvnRuntime,
  world: readonly FloorNetwork[],
  inFlight: number,
): Promise<void> {
  const [made] = await nb.transact([
    insert('Logical_Router', { name: rt.routerName, external_ids: routerIds(rt.instance) }),
  ]);
  const routerUuid = made.uuid;
  await forEachBounded(world, inFlight, async (net) => {
    await nb.transact(networkTransaction(rt, net, routerUuid));
  });
}

interface FloorResult {
  ms: number;
  /** From the first transaction until every port is bound in the southbound (with OVN_SB_DB). */
  boundMs: number | undefined;
  /** CPU used while it ran, by the machine and by command. */
  cpu: string;
  transactions: number;
  rows: Record<string, number>;
}

async function runFloor(
  ctx: BenchContext,
  nbEndpoint: string,
  instance: string,
  networks: number,
  workers: number,
  sb: SouthboundBindings | undefined,
): Promise<FloorResult> {
  const rt = new OvnRuntime({ nbEndpoint, instance });
  const world = floorWorld(instance, networks, ctx.n);
  // Built before the clock starts, as the floor's client would have them ready.
  const nb = await OvsdbClient.connect(nbEndpoint, { database: NB, reconnect: false });
  try {
    const counter = new TransactCounter(nb);
    ctx.log(`floor: ${String(networks)} switches with ${String(ctx.n)} ports, sent directly`);
    const cpu = new CpuMeter();
    const t0 = now();
    await writeOvnFloor(nb, rt, world, workers);
    const ms = now() - t0;
    const cpuReport = cpu.report('the floor client');
    const boundMs = sb && (await sb.until(portNames(instance, ctx.n), 'floor')) - t0;
    return {
      ms,
      boundMs,
      transactions: counter.total,
      rows: await countRows(nb, instance),
      cpu: cpuReport,
    };
  } finally {
    nb.close();
  }
}

// ---------------------------------------------------------------------------------------------
// ovn-nbctl, one command per port.

interface NbctlResult {
  ports: number;
  ms: number;
}

async function runNbctl(
  ctx: BenchContext,
  nbEndpoint: string,
  instance: string,
  networks: number,
  sample: number,
): Promise<NbctlResult> {
  const nbctl = (...args: string[]) => exec('ovn-nbctl', [`--db=${nbEndpoint}`, ...args]);
  const switchOf = (k: number) => `${instance}-ls-${String(k)}`;
  // The switches, untimed: the figure is per port.
  const adds: string[] = [];
  for (let k = 0; k < networks; k++) {
    if (adds.length) adds.push('--');
    adds.push(
      'ls-add',
      switchOf(k),
      '--',
      'set',
      'Logical_Switch',
      switchOf(k),
      `external_ids:syncord-instance=${instance}`,
      `other_config:subnet=${subnetOf(k)}`,
    );
  }
  await nbctl(...adds);
  const ports = Math.min(sample, ctx.n);
  ctx.log(`ovn-nbctl: ${String(ports)} ports, one command each, sequentially`);
  const t0 = now();
  for (let p = 0; p < ports; p++) {
    const k = p % networks;
    const host = Math.floor(p / networks) + 2;
    const subnet = subnetOf(k);
    const ip = `${subnet.slice(0, subnet.lastIndexOf('.'))}.${String(host)}`;
    const mac = `0a:57:${[p >> 16, (p >> 8) & 255, p & 255, k & 255]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(':')}`;
    const name = `${instance}-port-${String(p + 1)}`;
    await nbctl(
      'lsp-add',
      switchOf(k),
      name,
      '--',
      'lsp-set-addresses',
      name,
      `${mac} ${ip}`,
      '--',
      'lsp-set-port-security',
      name,
      `${mac} ${ip}`,
    );
    if ((p + 1) % 100 === 0) {
      ctx.log(`ovn-nbctl: ${String(p + 1)} ports in ${seconds(now() - t0)}`);
    }
  }
  return { ports, ms: now() - t0 };
}

// ---------------------------------------------------------------------------------------------

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  const nbEndpoint = process.env.OVN_NB_DB;
  if (!nbEndpoint) {
    throw new Error('ovn needs the rig\'s OVN northbound database: eval "$(rig/rig env)" first');
  }
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin`;
  const workers = positiveEnv('SYNCORD_BENCH_WORKERS', DEFAULT_WORKERS);
  const sample = positiveEnv('SYNCORD_BENCH_NBCTL_PORTS', NBCTL_SAMPLE);
  const networks = Math.max(1, Math.round(n / PORTS_PER_NETWORK));
  if (Math.ceil(n / networks) > 250) throw new Error(`${String(n)} ports: too many per /24`);
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const names = {
    syncord: `bov-${runId}`,
    floor: `bov-${runId}-floor`,
    nbctl: `bov-${runId}-nbctl`,
  };
  log(`instances ${names.syncord}, ${names.floor}, ${names.nbctl} on ${nbEndpoint}`);
  let sb: SouthboundBindings | undefined;
  try {
    const sbEndpoint = process.env.OVN_SB_DB;
    sb = sbEndpoint ? await SouthboundBindings.open(sbEndpoint) : undefined;
    if (!sb) log('no OVN_SB_DB: the southbound figures are left out');
    const floor = await runFloor(ctx, nbEndpoint, names.floor, networks, workers, sb);
    log(
      `floor: ${seconds(floor.ms)}, ${String(floor.transactions)} transactions; ` +
        `rows: ${describeRows(floor.rows)}`,
    );
    // The floor's rows go before Syncord starts, and northd is given time to drop them, so that
    // both sides start from the same database and an idle northd.
    await purgeInstance(nbEndpoint, names.floor);
    if (sb) await sb.untilNone(portNames(names.floor, n), 'floor cleanup');
    const syncord = await runSyncord(ctx, nbEndpoint, names.syncord, networks, workers, sb);
    log(
      `syncord: ${seconds(syncord.ms)}, ${String(syncord.reads + syncord.writes)} transactions ` +
        `(${String(syncord.reads)} read-only, ${String(syncord.writes)} writing); rows: ` +
        describeRows(syncord.rows),
    );
    log(`syncord: step runs (count x mean time): ${syncord.outcomes}`);
    if (floor.boundMs !== undefined && syncord.boundMs !== undefined) {
      log(
        `every port bound in the southbound: floor ${seconds(floor.boundMs)} after its first write, syncord ${seconds(syncord.boundMs)} after the commit`,
      );
    }
    log(`floor ${floor.cpu}`);
    log(`syncord ${syncord.cpu}`);
    const expected = {
      Logical_Switch: networks,
      Logical_Switch_Port: n + networks,
      DHCP_Options: networks,
      Logical_Router: 1,
      Logical_Router_Port: networks,
    };
    for (const [side, rows] of [
      ['floor', floor.rows],
      ['syncord', syncord.rows],
    ] as const) {
      if (describeRows(rows) !== describeRows(expected)) {
        throw new Error(
          `${side} left ${describeRows(rows)}, not ${describeRows(expected)}: not the same work`,
        );
      }
    }
    const nbctl = await runNbctl(ctx, nbEndpoint, names.nbctl, networks, sample);
    log(`ovn-nbctl: ${String(nbctl.ports)} ports in ${seconds(nbctl.ms)}`);
    const perPort = {
      syncord: syncord.ms / n,
      floor: floor.ms / n,
      nbctl: nbctl.ms / nbctl.ports,
    };
    const sampled = nbctl.ports < n ? `, ${String(nbctl.ports)} ports sampled` : '';
    return [
      {
        figure: `commit → all Networks and Ports ok (floor: direct, ${String(networks)} switches)`,
        value: syncord.ms,
        unit: 'ms',
        floor: floor.ms,
        target: { op: '<', ratio: 1.5 },
      },
      ...(syncord.boundMs !== undefined && floor.boundMs !== undefined
        ? [
            {
              figure: 'commit → every port bound in the southbound (floor: direct writes)',
              value: syncord.boundMs,
              unit: 'ms',
              floor: floor.boundMs,
            },
          ]
        : []),
      {
        figure: 'OVSDB transactions per converge (floor: direct)',
        value: syncord.reads + syncord.writes,
        unit: 'tx',
        floor: floor.transactions,
      },
      {
        figure: 'OVSDB writing transactions per converge (floor: direct)',
        value: syncord.writes,
        unit: 'tx',
        floor: floor.transactions,
      },
      {
        figure: `time per port (floor: ovn-nbctl per port${sampled})`,
        value: perPort.syncord,
        unit: 'ms',
        floor: perPort.nbctl,
        target: { op: '<', ratio: 1 },
      },
      { figure: 'time per port, direct floor', value: perPort.floor, unit: 'ms' },
    ];
  } finally {
    sb?.close();
    for (const instance of Object.values(names)) {
      await purgeInstance(nbEndpoint, instance).catch((err: unknown) => {
        log(`cleanup of ${instance} failed: ${errorText(err)}`);
      });
    }
    log('removed every northbound row of the run');
  }
}

export const ovnBenchmark: Benchmark = {
  name: 'ovn',
  summary: 'N ports on N/100 networks into OVN vs direct OVSDB and ovn-nbctl',
  defaultScale: 5000,
  run,
};
