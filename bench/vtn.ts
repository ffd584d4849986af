// The VTN benchmark (issue 7): N ports pushed to the reference VTN server by the engine with the
// VTN steps, against the same RPCs sent from a tight client loop in the same run.
//
// - floor: N/100 service networks made untimed, then N UpdatePort(allow_missing) calls, as many
//   in flight as a careful client would keep (64), timed from the first until the last answered.
// - Syncord: the engine (8 workers, only the VTN steps) is started and its VTN watch is synced;
//   N/100 Networks are committed and synced untimed; then the N Ports are committed in one
//   transaction (500 a call); the clock starts when the commit returns and stops when every Port
//   has backend_code 1 at its version (polled every 20 ms).
// Each side is a deployment of its own (annotation syncord-instance), with segment ids and
// subnets no one else uses; everything is removed at the end, also when the run fails. Both
// sides must leave the same number of ports in VTN, or the run fails.
import { VtnClient } from '../backends/vtn/client.js';
import { defaultRegistry } from '../models/index.js';
import type { ModelObject } from '../models/service.js';
import { vtnNetworkId, vtnPortId, vtnStepSet } from '../steps/vtn/index.js';
import {
  CpuMeter,
  withEngine,
  forEachBounded,
  now,
  positiveEnv,
  seconds,
  sleep,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

const PORTS_PER_NETWORK = 100;
const BATCH = 500;
const POLL_MS = 20;
const CONVERGE_TIMEOUT_MS = 10 * 60_000;
/** The floor's calls in flight: what a careful client keeps on one HTTP/2 connection. */
export const FLOOR_IN_FLIGHT = 64;
const DEFAULT_WORKERS = 8;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A run's address plan: /24s in 10.X.Y.0 and VNIs that no other run (very likely) uses. */
function planner(networks: number) {
  if (networks > 2000) throw new Error(`${String(networks)} networks: too many for the plan`);
  const seed = Math.floor(Math.random() * 1000);
  // Syncord's networks in the lower half of the /24s, the floor's in the upper half.
  return (side: 0 | 1, i: number) => {
    const k = side * 4096 + i;
    return {
      segment_id: 5_000_000 + seed * 8192 + k,
      subnet: `10.${String(64 + Math.floor(k / 256))}.${String(k % 256)}.0/24`,
      ip: (j: number) =>
        `10.${String(64 + Math.floor(k / 256))}.${String(k % 256)}.${String(j + 2)}`,
    };
  };
}

/** Removes every VTN host, port and network a deployment made (hosts first: VTN keeps a port with a host). */
export async function purgeVtn(client: VtnClient, instance: string): Promise<void> {
  const mine = { 'syncord-instance': instance };
  const hosts = await client.listHosts(mine);
  await forEachBounded(hosts, 64, async (h) => {
    if (h.host_id) await client.hostVanished(h.host_id);
  });
  const ports = await client.listPorts(mine);
  await forEachBounded(ports, 64, async (p) => {
    await client.deletePort(p.id);
  });
  for (const n of await client.listNetworks(mine)) await client.deleteNetwork(n.id);
}

async function runFloor(
  ctx: BenchContext,
  client: VtnClient,
  instance: string,
  networks: number,
  plan: ReturnType<typeof planner>,
): Promise<{ ms: number; cpu: string }> {
  const marks = (model: string, id: number) => ({
    'syncord-instance': instance,
    'syncord-model': model,
    'syncord-id': String(id),
  });
  for (let i = 0; i < networks; i++) {
    const p = plan(1, i);
    await client.putNetwork({
      id: vtnNetworkId(instance, i + 1),
      name: `net-${String(i)}`,
      type: 'PRIVATE',
      segment_id: p.segment_id,
      subnet: p.subnet,
      service_ip: p.ip(-1),
      annotations: marks('Network', i + 1),
    });
  }
  const ports = Array.from({ length: ctx.n }, (_, i) => {
    const k = i % networks;
    const j = Math.floor(i / networks);
    const mac = `0a:58:${[i >> 16, (i >> 8) & 255, i & 255, k & 255]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(':')}`;
    return {
      id: vtnPortId(instance, i + 1),
      network_id: vtnNetworkId(instance, k + 1),
      name: `port-${String(i + 1)}`,
      mac_address: mac,
      ip_address: plan(1, k).ip(j),
      floating_address_pairs: [],
      annotations: marks('Port', i + 1),
    };
  });
  ctx.log(`floor: ${String(ctx.n)} UpdatePort calls, ${String(FLOOR_IN_FLIGHT)} in flight`);
  const cpu = new CpuMeter();
  const t0 = now();
  await forEachBounded(ports, FLOOR_IN_FLIGHT, async (p) => {
    await client.putPort(p);
  });
  const ms = now() - t0;
  return { ms, cpu: cpu.report('the floor client') };
}

async function runSyncord(
  ctx: BenchContext,
  address: string,
  instance: string,
  networks: number,
  plan: ReturnType<typeof planner>,
  workers: number,
): Promise<{ ms: number; cpu: string; outcomes: string }> {
  const { log, n } = ctx;
  const registry = defaultRegistry();
  return withEngine(
    ctx,
    registry,
    { instance, workers },
    (remember) => vtnStepSet({ address, instance, log: remember }),
    async ({ svc, sql, set, tally, engineLog, service }) => {
      const t = now();
      while (!set.observer.synced) {
        if (now() - t > 30_000)
          throw new Error(`the VTN watch did not sync: ${engineLog.join('; ')}`);
        await sleep(20);
      }
      const nets: ModelObject[] = await svc.createMany(
        'Network',
        Array.from({ length: networks }, (_, i) => ({
          name: `${instance}-net-${String(i)}`,
          subnet: plan(0, i).subnet,
          segment_id: plan(0, i).segment_id,
        })),
      );
      const sis: ModelObject[] = await svc.createMany(
        'ServiceInstance',
        nets.map((_, i) => ({ name: `${instance}-si-${String(i)}`, owner_id: service.id })),
      );
      for (;;) {
        const r = await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM network WHERE backend_code = 1 AND synced_version = version`,
        );
        if (r.rows[0]!.n === networks) break;
        await sleep(POLL_MS);
      }
      log(`syncord: ${String(networks)} networks in VTN; committing ${String(n)} ports`);
      await svc.transaction(async (tx) => {
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
          await tx.createMany('Port', ports.slice(from, from + BATCH));
        }
      });
      const committed = now();
      const cpu = new CpuMeter();
      let lastLog = committed;
      for (;;) {
        const r = await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM port
            WHERE deleted_at IS NULL AND backend_code = 1 AND synced_version = version`,
        );
        const ok = r.rows[0]!.n;
        if (ok === n) break;
        const t2 = now();
        if (t2 - lastLog > 5000) {
          log(`syncord: ${String(ok)} ports ok after ${seconds(t2 - committed)}`);
          lastLog = t2;
        }
        if (t2 - committed > CONVERGE_TIMEOUT_MS) {
          throw new Error(
            `syncord did not converge: ${String(ok)} of ${String(n)} ports ok; ${engineLog.slice(-3).join('; ')}`,
          );
        }
        await sleep(POLL_MS);
      }
      const ms = now() - committed;
      return {
        ms,
        cpu: cpu.report('the engine, its VTN client and the bench'),
        outcomes: tally.summary(),
      };
    },
  );
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  const address = process.env.SYNCORD_VTN_ADDRESS;
  if (!address) {
    throw new Error(
      'vtn needs the rig\'s VTN server (SYNCORD_VTN_ADDRESS): eval "$(rig/rig env)" first',
    );
  }
  const workers = positiveEnv('SYNCORD_BENCH_WORKERS', DEFAULT_WORKERS);
  const networks = Math.max(1, Math.round(n / PORTS_PER_NETWORK));
  if (Math.ceil(n / networks) > 250) throw new Error(`${String(n)} ports: too many per /24`);
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const names = { syncord: `bvt-${runId}`, floor: `bvt-${runId}-floor` };
  const plan = planner(networks);
  const client = new VtnClient(address);
  log(`instances ${names.syncord}, ${names.floor} on ${address}`);
  try {
    const floor = await runFloor(ctx, client, names.floor, networks, plan);
    const floorPorts = (await client.listPorts({ 'syncord-instance': names.floor })).length;
    log(`floor: ${seconds(floor.ms)} for ${String(floorPorts)} ports`);
    await purgeVtn(client, names.floor);
    const syncord = await runSyncord(ctx, address, names.syncord, networks, plan, workers);
    const syncordPorts = (await client.listPorts({ 'syncord-instance': names.syncord })).length;
    log(`syncord: ${seconds(syncord.ms)} for ${String(syncordPorts)} ports`);
    log(`syncord: step runs (count x mean time): ${syncord.outcomes}`);
    log(`floor ${floor.cpu}`);
    log(`syncord ${syncord.cpu}`);
    if (floorPorts !== n || syncordPorts !== n) {
      throw new Error(
        `VTN has ${String(floorPorts)} floor and ${String(syncordPorts)} Syncord ports, not ${String(n)} each`,
      );
    }
    return [
      {
        figure: `commit → all ports ok (floor: ${String(FLOOR_IN_FLIGHT)} UpdatePort in flight)`,
        value: syncord.ms,
        unit: 'ms',
        floor: floor.ms,
        target: { op: '<', ratio: 1.3 },
      },
      {
        figure: 'ports pushed per second (floor: the tight client loop)',
        value: (n / syncord.ms) * 1000,
        unit: '/s',
        floor: (n / floor.ms) * 1000,
      },
    ];
  } finally {
    for (const instance of Object.values(names)) {
      await purgeVtn(client, instance).catch((err: unknown) => {
        log(`cleanup of ${instance} failed: ${errorText(err)}`);
      });
    }
    client.close();
    log('removed every VTN object of the run');
  }
}

export const vtnBenchmark: Benchmark = {
  name: 'vtn',
  summary: 'N ports pushed to the VTN server by the engine vs a tight client loop',
  defaultScale: 10000,
  run,
};
