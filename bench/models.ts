// `npm run bench -- models`: the model service creating, updating and listing N
// VNFServiceInstances, each with one Port on one Network (IPAM gives every Port an address and a
// MAC), against raw `pg` doing the same writes and reads (the floor):
//
// - create: the service's createMany in batches of BATCH, instances then ports, one transaction
//   per batch; the floor inserts the same rows (same columns and values, one multi-row INSERT per
//   table per batch, one transaction per batch) with the addresses and MACs precomputed and
//   written into the ports and the IPAM tables as the service writes them.
// - update: N single-object updates with expectedVersion, UPDATE_CONCURRENCY at a time; the floor
//   is `UPDATE ... SET ..., version = version + 1 WHERE id = $1 AND version = $2` (autocommit),
//   as many at a time.
// - list: every instance through list() pages of PAGE_SIZE following nextPageToken; the floor is
//   one `SELECT *` of the same rows in id order, on the service's database. Median of LIST_REPS.
//
// The service works in one scratch database and the floor in another, both migrated, seeded
// alike, warmed up alike (a run of WARMUP), then truncated so that both start equal. The two take
// turns batch by batch (and listing by listing), so that load from elsewhere on the machine falls
// on both alike. At the end the two databases must hold the same rows (all but the random MACs
// and the times), or the run fails: a floor doing less than the service would flatter no one.
import pg from 'pg';
import { defaultRegistry } from '../models/index.js';
import {
  defaultGateway,
  firstFree,
  formatAddress,
  parseCidr,
  randomMac,
  usableRange,
  type Subnet,
} from '../models/ipam/address.js';
import { ModelService } from '../models/service.js';
import {
  RssSampler,
  forEachBounded,
  median,
  timed,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

const BATCH = 500;
const UPDATE_CONCURRENCY = 8;
const PAGE_SIZE = 1000;
const LIST_REPS = 3;
const WARMUP = 200;
const POOL_SIZE = 10;
const INSTANCE_MODEL = 'VNFServiceInstance';

/** The objects every instance and port refers to (the same ids in both databases). */
interface Seed {
  serviceId: number;
  sliceId: number;
  imageId: number;
  networkId: number;
  subnet: Subnet;
}

/** A network big enough for N ports: a /16, or larger when N needs it. */
function subnetFor(n: number): string {
  const hostBits = Math.max(16, Math.ceil(Math.log2(n + WARMUP + 4)));
  if (hostBits > 24) throw new RangeError(`${String(n)} ports do not fit in 10.0.0.0/8`);
  return `10.0.0.0/${String(32 - hostBits)}`;
}

async function seed(url: string, n: number): Promise<Seed> {
  const svc = new ModelService(url, defaultRegistry(), { poolSize: 1 });
  try {
    const service = await svc.create('VNFService', { name: 'bench-vnf', vendor: 'acme' });
    const site = await svc.create('Site', { name: 'bench-site' });
    const td = await svc.create('TrustDomain', { name: 'bench-td', owner_id: service.id });
    const slice = await svc.create('Slice', {
      name: 'bench-slice',
      site_id: site.id,
      trust_domain_id: td.id,
      service_id: service.id,
    });
    const image = await svc.create('Image', { name: 'bench-image', tag: '1.0' });
    const network = await svc.create('Network', {
      name: 'bench-net',
      subnet: subnetFor(n),
      owner_id: slice.id,
    });
    return {
      serviceId: service.id,
      sliceId: slice.id,
      imageId: image.id,
      networkId: network.id,
      subnet: parseCidr(network.subnet as string),
    };
  } finally {
    await svc.close();
  }
}

/** What the service is asked to create for instance i. */
function instanceInput(s: Seed, i: number): Record<string, unknown> {
  return {
    name: `vnf-${String(i)}`,
    owner_id: s.serviceId,
    slice_id: s.sliceId,
    image_id: s.imageId,
  };
}

/** The same instance as the service stores it (its default `workload` and its `leaf_model`). */
function instanceRow(s: Seed, i: number): unknown[] {
  return [`vnf-${String(i)}`, s.serviceId, s.sliceId, s.imageId, 'container', INSTANCE_MODEL];
}
const INSTANCE_COLUMNS = ['name', 'owner_id', 'slice_id', 'image_id', 'workload', 'leaf_model'];

const INTERFACE = 'net1';

/**
 * One way of doing the work, a batch at a time: through the model service, or raw `pg` (the
 * floor). Batch k covers instances and ports k*BATCH up to (k+1)*BATCH - 1.
 */
interface Side {
  /** One transaction creating instances `from` up to `to` - 1; their ids in order. */
  createInstances(from: number, to: number): Promise<number[]>;
  /** One transaction creating a port per instance; `from` is the first one's position. */
  createPorts(instanceIds: number[], from: number): Promise<void>;
  /** Moves each instance from version 1 to 2, UPDATE_CONCURRENCY at a time. */
  update(ids: number[]): Promise<void>;
}

function serviceSide(svc: ModelService, s: Seed): Side {
  return {
    async createInstances(from, to) {
      const rows = [];
      for (let i = from; i < to; i++) rows.push(instanceInput(s, i));
      const made = await svc.createMany(INSTANCE_MODEL, rows);
      return made.map((o) => o.id);
    },
    async createPorts(instanceIds) {
      await svc.createMany(
        'Port',
        instanceIds.map((id) => ({
          network_id: s.networkId,
          service_instance_id: id,
          interface_name: INTERFACE,
        })),
      );
    },
    async update(ids) {
      await forEachBounded(ids, UPDATE_CONCURRENCY, async (id) => {
        await svc.update(INSTANCE_MODEL, id, { workload: 'vm' }, { expectedVersion: 1 });
      });
    },
  };
}

/** Every instance through the service's pages, following nextPageToken; how many. */
async function serviceList(svc: ModelService): Promise<number> {
  let count = 0;
  let pageToken: string | undefined;
  do {
    const page = await svc.list(INSTANCE_MODEL, { pageSize: PAGE_SIZE, pageToken });
    count += page.items.length;
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken);
  return count;
}

/** The floor of the listing: the same rows in one query; how many. */
async function rawList(pool: pg.Pool): Promise<number> {
  const r = await pool.query(
    `SELECT * FROM service_instance WHERE deleted_at IS NULL AND leaf_model = ANY($1::text[])
      ORDER BY id`,
    [[INSTANCE_MODEL]],
  );
  return r.rows.length;
}

/** `($1, $2, ...), ($k, ...)` for rows of `width` parameters. */
function tuples(rows: number, width: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 1; c <= width; c++) cells.push(`$${String(r * width + c)}`);
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}

async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The addresses and MACs the service will hand out on a fresh network, computed beforehand
 * (outside the timed part): addresses upward from the first usable one, past the gateway; MACs
 * random and distinct; after each address, where the service leaves its allocation cursor.
 */
interface Precomputed {
  addresses: string[];
  cursorAfter: string[];
  macs: string[];
}

function precompute(s: Seed, count: number): Precomputed {
  const gateway = defaultGateway(s.subnet);
  const usable = usableRange(s.subnet);
  const text = (v: bigint) => formatAddress(s.subnet.family, v);
  const addresses: string[] = [];
  const cursorAfter: string[] = [];
  let at: bigint | undefined = usable.first;
  for (let i = 0; i < count; i++) {
    at = firstFree(s.subnet, [{ first: gateway, last: gateway }], () => false, at);
    if (at === undefined) throw new RangeError(`no room for ${String(count)} ports`);
    addresses.push(text(at));
    at++;
    cursorAfter.push(text(at > usable.last ? usable.first : at));
  }
  const macs = new Set<string>();
  while (macs.size < count) macs.add(randomMac());
  return { addresses, cursorAfter, macs: [...macs] };
}

/** The floor: `ipam` holds the addresses and MACs of ports 0, 1, ... in creation order. */
function rawSide(pool: pg.Pool, s: Seed, ipam: Precomputed): Side {
  return {
    async createInstances(from, to) {
      const params: unknown[] = [];
      for (let i = from; i < to; i++) params.push(...instanceRow(s, i));
      const r = await inTransaction(pool, (c) =>
        c.query<{ id: number }>(
          `INSERT INTO service_instance (${INSTANCE_COLUMNS.join(', ')}) VALUES ${tuples(to - from, INSTANCE_COLUMNS.length)} RETURNING id`,
          params,
        ),
      );
      return r.rows.map((row) => row.id);
    },
    async createPorts(instanceIds, from) {
      const params: unknown[] = [];
      instanceIds.forEach((id, i) => {
        params.push(s.networkId, id, INTERFACE, ipam.addresses[from + i], ipam.macs[from + i]);
      });
      // The cursor goes where the service leaves it: just past the last address handed out.
      const cursor = ipam.cursorAfter[from + instanceIds.length - 1];
      await inTransaction(pool, async (c) => {
        const ports = await c.query<{ id: number; service_instance_id: number }>(
          `INSERT INTO port (network_id, service_instance_id, interface_name, ip, mac) VALUES ${tuples(instanceIds.length, 5)} RETURNING id, service_instance_id`,
          params,
        );
        const portOf = new Map(ports.rows.map((p) => [p.service_instance_id, p.id]));
        const addressParams: unknown[] = [];
        const macParams: unknown[] = [];
        instanceIds.forEach((instanceId, i) => {
          const portId = portOf.get(instanceId);
          addressParams.push(s.networkId, ipam.addresses[from + i], portId, false);
          macParams.push(ipam.macs[from + i], s.networkId, portId, false);
        });
        await c.query(
          `INSERT INTO syncord_ipam_address (network_id, address, port_id, static) VALUES ${tuples(instanceIds.length, 4)}`,
          addressParams,
        );
        await c.query(
          `INSERT INTO syncord_ipam_mac (mac, network_id, port_id, static) VALUES ${tuples(instanceIds.length, 4)}`,
          macParams,
        );
        await c.query(
          `INSERT INTO syncord_ipam_cursor (network_id, next_address) VALUES ($1, $2::inet)
           ON CONFLICT (network_id) DO UPDATE SET next_address = EXCLUDED.next_address`,
          [s.networkId, cursor],
        );
      });
    },
    async update(ids) {
      await forEachBounded(ids, UPDATE_CONCURRENCY, async (id) => {
        const r = await pool.query(
          `UPDATE service_instance SET workload = $3, version = version + 1, updated_at = now()
            WHERE id = $1 AND version = $2`,
          [id, 1, 'vm'],
        );
        if (r.rowCount !== 1) throw new Error(`raw update of ${String(id)} found no version 1`);
      });
    },
  };
}

type SideName = 'service' | 'floor';

/**
 * Runs `work` batch by batch, the two sides taking turns (floor first in even batches, service
 * first in odd ones), so that whatever else the machine does falls on both alike; the
 * milliseconds each side spent in its own batches.
 */
async function alternate(
  batches: number,
  work: (side: SideName, k: number) => Promise<void>,
): Promise<Record<SideName, number>> {
  const spent: Record<SideName, number> = { service: 0, floor: 0 };
  for (let k = 0; k < batches; k++) {
    const order: SideName[] = k % 2 === 0 ? ['floor', 'service'] : ['service', 'floor'];
    for (const side of order) {
      const { ms } = await timed(() => work(side, k));
      spent[side] += ms;
    }
  }
  return spent;
}

/** Creates, updates and lists `count` instances with ports on both sides, timed per side. */
async function workload(
  sides: Record<SideName, Side>,
  count: number,
  list: Record<SideName, () => Promise<number>>,
  listReps: number,
  rss: RssSampler,
  settle: () => Promise<void>,
) {
  const batches = Math.ceil(count / BATCH);
  const bounds = (k: number) => [k * BATCH, Math.min(count, (k + 1) * BATCH)] as const;
  const ids: Record<SideName, number[][]> = { service: [], floor: [] };
  const instances = await alternate(batches, async (side, k) => {
    ids[side][k] = await sides[side].createInstances(...bounds(k));
  });
  rss.sample();
  const ports = await alternate(batches, async (side, k) => {
    await sides[side].createPorts(ids[side][k]!, bounds(k)[0]);
  });
  rss.sample();
  await settle();
  const updates = await alternate(batches, async (side, k) => {
    await sides[side].update(ids[side][k]!);
  });
  rss.sample();
  await settle();
  const listed: Record<SideName, number[]> = { service: [], floor: [] };
  for (let rep = 0; rep < listReps; rep++) {
    for (const side of rep % 2 === 0
      ? (['floor', 'service'] as const)
      : (['service', 'floor'] as const)) {
      const { ms, result } = await timed(list[side]);
      if (result !== count)
        throw new Error(`${side} listed ${String(result)}, not ${String(count)}`);
      listed[side].push(ms);
      rss.sample();
    }
  }
  return { instances, ports, updates, listed };
}

/** Empties what the benchmark writes (and the change log), ids from 1 again. */
async function reset(pool: pg.Pool): Promise<void> {
  await pool.query(
    `TRUNCATE syncord_ipam_address, syncord_ipam_mac, syncord_ipam_cursor, port, service_instance,
              syncord_change, syncord_txn RESTART IDENTITY`,
  );
  await vacuum(pool);
}

async function vacuum(pool: pg.Pool): Promise<void> {
  await pool.query(
    'VACUUM (ANALYZE) service_instance, port, syncord_ipam_address, syncord_ipam_mac, syncord_change, syncord_txn',
  );
}

/** What both databases must hold alike once the run is done (MACs are random, times differ). */
async function fingerprint(pool: pg.Pool): Promise<Record<string, string>> {
  const digest = async (sql: string) => {
    const r = await pool.query<{ d: string | null }>(sql);
    return r.rows[0]?.d ?? '';
  };
  const noTimes = `- 'created_at' - 'updated_at'`;
  return {
    service_instance: await digest(
      `SELECT md5(string_agg((to_jsonb(t) ${noTimes})::text, ',' ORDER BY id)) AS d FROM service_instance t`,
    ),
    port: await digest(
      `SELECT md5(string_agg((to_jsonb(t) ${noTimes} - 'mac')::text, ',' ORDER BY id)) AS d FROM port t`,
    ),
    syncord_ipam_address: await digest(
      `SELECT md5(string_agg(t::text, ',' ORDER BY port_id)) AS d FROM syncord_ipam_address t`,
    ),
    syncord_ipam_mac: await digest(
      `SELECT md5(string_agg((network_id, port_id, static)::text, ',' ORDER BY port_id)) AS d FROM syncord_ipam_mac t`,
    ),
    syncord_ipam_cursor: await digest(
      `SELECT md5(string_agg(t::text, ',')) AS d FROM syncord_ipam_cursor t`,
    ),
    syncord_change: await digest(
      `SELECT md5(string_agg((model, object_id, version, op)::text, ',' ORDER BY model, object_id, version, op)) AS d FROM syncord_change`,
    ),
    syncord_txn: await digest(`SELECT count(*)::text AS d FROM syncord_txn`),
  };
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { n, log } = ctx;
  const registry = defaultRegistry();
  const rss = new RssSampler();
  return withMigratedScratch(ctx.serverUrl, registry, (serviceUrl) =>
    withMigratedScratch(ctx.serverUrl, registry, async (floorUrl) => {
      log('seeding two scratch databases alike');
      const seedA = await seed(serviceUrl, n);
      const seedB = await seed(floorUrl, n);
      if (seedA.networkId !== seedB.networkId || seedA.serviceId !== seedB.serviceId) {
        throw new Error('the two scratch databases were seeded with different ids');
      }
      const svc = new ModelService(serviceUrl, registry, { poolSize: POOL_SIZE });
      const sqlA = new pg.Pool({ connectionString: serviceUrl, max: POOL_SIZE });
      const sqlB = new pg.Pool({ connectionString: floorUrl, max: POOL_SIZE });
      // An idle connection cut by the scratch database's drop is no failure of the run.
      for (const pool of [svc.pool, sqlA, sqlB]) pool.on('error', () => undefined);
      try {
        const sides = (count: number): Record<SideName, Side> => ({
          service: serviceSide(svc, seedA),
          floor: rawSide(sqlB, seedB, precompute(seedB, count)),
        });
        // The raw listing reads the service's own rows: the same table, the same pages.
        const lists = { service: () => serviceList(svc), floor: () => rawList(sqlA) };

        const settle = async () => {
          await Promise.all([vacuum(sqlA), vacuum(sqlB)]);
        };

        log(`warming up: ${String(WARMUP)} instances with ports on each side, then truncating`);
        await workload(sides(WARMUP), WARMUP, lists, 1, rss, settle);
        await Promise.all([reset(sqlA), reset(sqlB)]);

        log(
          `measuring: ${String(n)} instances with ports, in batches of ${String(BATCH)} taken in ` +
            `turn by the service and the floor; updates ${String(UPDATE_CONCURRENCY)} at a time`,
        );
        const measured = await workload(sides(n), n, lists, LIST_REPS, rss, settle);
        const ms = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
        log(
          `list times (ms): floor ${ms(measured.listed.floor)}; service ${ms(measured.listed.service)}`,
        );

        const a = await fingerprint(sqlA);
        const b = await fingerprint(sqlB);
        const differ = Object.keys(a).filter((k) => a[k] !== b[k]);
        if (differ.length) {
          throw new Error(`the floor and the service wrote different rows in ${differ.join(', ')}`);
        }
        log('checked: the floor and the service wrote the same rows');

        const perSecond = (count: number, ms: number) => (count * 1000) / ms;
        const { instances, ports, updates, listed } = measured;
        const create = { op: '>=', ratio: 0.5 } as const;
        return [
          {
            figure: `create instances (createMany x${String(BATCH)})`,
            value: perSecond(n, instances.service),
            unit: 'objects/s',
            floor: perSecond(n, instances.floor),
            target: create,
          },
          {
            figure: `create ports (createMany x${String(BATCH)}, IPAM)`,
            value: perSecond(n, ports.service),
            unit: 'objects/s',
            floor: perSecond(n, ports.floor),
            target: create,
          },
          {
            figure: 'create instances + ports',
            value: perSecond(2 * n, instances.service + ports.service),
            unit: 'objects/s',
            floor: perSecond(2 * n, instances.floor + ports.floor),
            target: create,
          },
          {
            figure: `update (expectedVersion, ${String(UPDATE_CONCURRENCY)} concurrent)`,
            value: perSecond(n, updates.service),
            unit: 'updates/s',
            floor: perSecond(n, updates.floor),
          },
          {
            figure: `list all (pageSize ${String(PAGE_SIZE)}, median of ${String(LIST_REPS)})`,
            value: median(listed.service),
            unit: 'ms',
            floor: median(listed.floor),
            target: { op: '<', ratio: 2 },
          },
          { figure: 'peak RSS of the process', value: rss.stop(), unit: 'MiB' },
        ];
      } finally {
        await svc.close();
        await sqlA.end();
        await sqlB.end();
      }
    }),
  );
}

export const modelsBenchmark: Benchmark = {
  name: 'models',
  summary: 'model service create/update/list of N VNF instances with ports vs raw pg',
  defaultScale: 10_000,
  run,
};
