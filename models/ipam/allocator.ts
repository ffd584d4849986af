// IPAM in PostgreSQL: one row per address (per network) and per MAC (across networks, since ONOS
// names a host by its MAC) in use, under primary keys, so nothing is handed out twice. Allocation
// on a network runs under a transaction-scoped advisory lock on that network, so concurrent
// allocations queue instead of failing; the unique keys stay the last word. Rows go with their
// Port when it is reaped (foreign keys ON DELETE CASCADE), so a soft-deleted Port keeps its
// address until its backends are gone.
import type { FieldProblem } from '../errors.js';
import type { ModelTx } from '../service.js';
import { q } from '../schema.js';
import {
  AddressError,
  contains,
  countUsable,
  defaultGateway,
  firstFree,
  formatAddress,
  parseAddress,
  parseCidr,
  parseExcludeIps,
  randomMac,
  usableRange,
  type AddressRange,
  type Subnet,
} from './address.js';

/** An address or MAC to record for a port once the port row exists. */
export interface IpamRow {
  networkId: number;
  portId: number;
  address?: string;
  mac?: string;
  staticAddress: boolean;
  staticMac: boolean;
}

/** The advisory lock class of per-network allocation (the object id is the network id). */
const LOCK_CLASS = 7310432;
const WINDOW = 1024;

interface PortRequest {
  id: number;
  set: Record<string, unknown>;
  index?: number;
}

interface NetworkPlan {
  id: number;
  name: string;
  subnet: Subnet;
  gateway: bigint;
  reserved: AddressRange[];
}

async function networkPlan(tx: ModelTx, id: number, lock: boolean): Promise<NetworkPlan> {
  if (lock) await tx.client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, id]);
  const table = tx.registry.get('Network').table;
  const r = await tx.client.query<{
    name: string;
    subnet: string;
    gateway: string | null;
    exclude_ips: string | null;
  }>(`SELECT name, subnet, gateway, exclude_ips FROM ${q(table)} WHERE id = $1`, [id]);
  const row = r.rows[0];
  if (!row) throw new Error(`network ${String(id)} vanished during allocation`);
  return plan(id, row.name, row.subnet, row.gateway, row.exclude_ips);
}

function plan(
  id: number,
  name: string,
  cidr: string,
  gatewayText: string | null,
  excludeText: string | null,
): NetworkPlan {
  const subnet = parseCidr(cidr);
  const gateway = gatewayText ? parseAddress(gatewayText).value : defaultGateway(subnet);
  const reserved = [
    { first: gateway, last: gateway },
    ...parseExcludeIps(subnet, excludeText ?? ''),
  ];
  return { id, name, subnet, gateway, reserved };
}

/** "Port 12 (net1 of VNFServiceInstance 7)" for each port id. */
export async function describePorts(tx: ModelTx, ids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (ids.length === 0) return out;
  const port = tx.registry.get('Port');
  const si = tx.registry.get('ServiceInstance');
  const r = await tx.client.query<{
    id: number;
    name: string | null;
    interface_name: string | null;
    si_id: number;
    si_model: string | null;
  }>(
    `SELECT p.id, p.name, p.interface_name, p.service_instance_id AS si_id,
            ${si.polymorphic ? 's.leaf_model' : `'${si.name}'`} AS si_model
       FROM ${q(port.table)} p LEFT JOIN ${q(si.table)} s ON s.id = p.service_instance_id
      WHERE p.id = ANY($1::int[])`,
    [ids],
  );
  for (const row of r.rows) {
    const what = row.name ?? row.interface_name ?? 'a port';
    out.set(
      row.id,
      `Port ${String(row.id)} (${what} of ${row.si_model ?? 'ServiceInstance'} ${String(row.si_id)})`,
    );
  }
  for (const id of ids) if (!out.has(id)) out.set(id, `Port ${String(id)}`);
  return out;
}

/** An address or MAC row: a Port's, or held (port_id null) for what `held_by` says. */
interface HeldRow {
  port_id: number | null;
  held_by: string | null;
}

/** Who holds each row, as describePorts says it, or the row's `held_by`. */
async function describeHolders(tx: ModelTx, rows: HeldRow[]): Promise<(row: HeldRow) => string> {
  const ports = await describePorts(
    tx,
    rows.flatMap((r) => (r.port_id === null ? [] : [r.port_id])),
  );
  return (row) =>
    row.port_id === null
      ? (row.held_by ?? 'a deleted port')
      : (ports.get(row.port_id) ?? `Port ${String(row.port_id)}`);
}

/**
 * Keeps the addresses and MACs of Ports about to be reaped as held (their port_id cleared,
 * `held_by` saying by what): for Ports deleted with deletion_policy `orphan`, whose backend
 * objects keep running with those addresses. Until the holds are released (`syncord ipam
 * release`) or the network goes, no one else is given them.
 */
export async function holdAddressesOf(tx: ModelTx, portIds: number[]): Promise<void> {
  if (portIds.length === 0) return;
  const names = await describePorts(tx, portIds);
  const held = portIds.map(
    (id) => `orphaned ${names.get(id) ?? `Port ${String(id)}`}, left running in its backend`,
  );
  for (const table of ['syncord_ipam_address', 'syncord_ipam_mac']) {
    await tx.client.query(
      `UPDATE ${table} t SET held_by = h.held_by, port_id = NULL
         FROM unnest($1::int[], $2::text[]) AS h(port_id, held_by)
        WHERE t.port_id = h.port_id`,
      [portIds, held],
    );
  }
}

/**
 * Gives every port an address on its network and a MAC: the static ones asked for (refused with
 * the holder named when taken, or with the reason when outside the plan), the others the next
 * free ones. Fills `set.ip` and `set.mac` of each request; returns the rows to insert after the
 * ports. On update, `changed` holds the columns the update changes (ip and/or mac).
 */
export async function allocatePorts(
  tx: ModelTx,
  ports: PortRequest[],
  changed?: Record<string, unknown>,
): Promise<{
  problems: FieldProblem[];
  rows: IpamRow[];
  updates: Map<number, { ip?: unknown; mac?: unknown }>;
}> {
  const problems: FieldProblem[] = [];
  const rows: IpamRow[] = [];
  const updates = new Map<number, { ip?: unknown; mac?: unknown }>();
  const problem = (p: PortRequest, field: string, reason: string) =>
    problems.push(p.index === undefined ? { field, reason } : { field, reason, index: p.index });
  const doIp = !changed || 'ip' in changed;
  const doMac = !changed || 'mac' in changed;

  const byNetwork = new Map<number, PortRequest[]>();
  for (const p of ports) {
    const n = p.set.network_id as number;
    const list = byNetwork.get(n);
    if (list) list.push(p);
    else byNetwork.set(n, [p]);
  }
  for (const networkId of [...byNetwork.keys()].sort((a, b) => a - b)) {
    const requests = byNetwork.get(networkId)!;
    const net = await networkPlan(tx, networkId, true);
    if (changed) {
      // An update moves the port: its old address or MAC is released first.
      const ids = requests.map((p) => p.id);
      if (doIp && changed.ip !== null) {
        await tx.client.query('DELETE FROM syncord_ipam_address WHERE port_id = ANY($1::int[])', [
          ids,
        ]);
      }
      if (doMac && changed.mac !== null) {
        await tx.client.query('DELETE FROM syncord_ipam_mac WHERE port_id = ANY($1::int[])', [ids]);
      }
    }

    if (doIp) {
      const statics = new Map<bigint, PortRequest>();
      const dynamic: PortRequest[] = [];
      for (const p of requests) {
        const ip = p.set.ip;
        if (changed && changed.ip === null) {
          // Clearing a static address keeps the one the port has: addresses move only on request.
          continue;
        }
        if (typeof ip !== 'string') {
          dynamic.push(p);
          continue;
        }
        const why = staticAddressProblem(net, ip);
        if (why) {
          problem(p, 'ip', why);
          continue;
        }
        const value = parseAddress(ip).value;
        const other = statics.get(value);
        if (other) {
          problem(p, 'ip', `${ip} is also asked for by another port of this request`);
          continue;
        }
        statics.set(value, p);
      }
      if (statics.size) {
        const texts = [...statics.keys()].map((v) => formatAddress(net.subnet.family, v));
        const r = await tx.client.query<HeldRow & { address: string }>(
          `SELECT host(address) AS address, port_id, held_by FROM syncord_ipam_address
            WHERE network_id = $1 AND address = ANY($2::inet[])`,
          [networkId, texts],
        );
        const holder = await describeHolders(tx, r.rows);
        for (const row of r.rows) {
          const value = parseAddress(row.address).value;
          const p = statics.get(value)!;
          statics.delete(value);
          problem(p, 'ip', `${row.address} is held by ${holder(row)} on Network ${net.name}`);
        }
      }
      for (const [value, p] of statics) {
        const address = formatAddress(net.subnet.family, value);
        p.set.ip = address;
        rows.push({ networkId, portId: p.id, address, staticAddress: true, staticMac: false });
      }
      if (dynamic.length) {
        const got = await nextFree(tx, net, dynamic.length, new Set(statics.keys()));
        if (got.length < dynamic.length) {
          const usable = countUsable(net.subnet, net.reserved);
          for (const p of dynamic.slice(got.length)) {
            problem(
              p,
              'ip',
              `Network ${net.name} (${net.subnet.cidr}) has no free address: its ${usable.toString()} usable addresses are all allocated`,
            );
          }
        }
        got.forEach((value, i) => {
          const p = dynamic[i]!;
          const address = formatAddress(net.subnet.family, value);
          p.set.ip = address;
          rows.push({ networkId, portId: p.id, address, staticAddress: false, staticMac: false });
        });
      }
    }

    if (doMac) {
      const statics = new Map<string, PortRequest>();
      const dynamic: PortRequest[] = [];
      for (const p of requests) {
        if (changed && changed.mac === null) continue;
        const mac = p.set.mac;
        if (typeof mac !== 'string') {
          dynamic.push(p);
        } else if (statics.has(mac)) {
          problem(p, 'mac', `${mac} is also asked for by another port of this request`);
        } else {
          statics.set(mac, p);
        }
      }
      if (statics.size) {
        const r = await tx.client.query<HeldRow & { mac: string }>(
          `SELECT mac::text AS mac, port_id, held_by FROM syncord_ipam_mac
            WHERE mac = ANY($1::macaddr[])`,
          [[...statics.keys()]],
        );
        const holder = await describeHolders(tx, r.rows);
        for (const row of r.rows) {
          const p = statics.get(row.mac)!;
          statics.delete(row.mac);
          problem(p, 'mac', `${row.mac} is held by ${holder(row)}`);
        }
      }
      const chosen = new Set(statics.keys());
      let pending = dynamic.map((p) => ({ p, mac: '' }));
      for (let round = 0; pending.length && round < 5; round++) {
        for (const d of pending) {
          do d.mac = randomMac();
          while (chosen.has(d.mac));
          chosen.add(d.mac);
        }
        const r = await tx.client.query<{ mac: string }>(
          `SELECT mac::text AS mac FROM syncord_ipam_mac WHERE mac = ANY($1::macaddr[])`,
          [pending.map((d) => d.mac)],
        );
        const clash = new Set(r.rows.map((x) => x.mac));
        for (const d of pending.filter((x) => !clash.has(x.mac))) {
          d.p.set.mac = d.mac;
          rows.push({
            networkId,
            portId: d.p.id,
            mac: d.mac,
            staticAddress: false,
            staticMac: false,
          });
        }
        pending = pending.filter((x) => clash.has(x.mac));
      }
      for (const d of pending)
        problem(d.p, 'mac', 'no free MAC found (random MACs kept colliding)');
      for (const [mac, p] of statics) {
        p.set.mac = mac;
        rows.push({ networkId, portId: p.id, mac, staticAddress: false, staticMac: true });
      }
    }
    for (const p of requests) updates.set(p.id, { ip: p.set.ip, mac: p.set.mac });
  }
  return { problems, rows, updates };
}

function staticAddressProblem(net: NetworkPlan, text: string): string | undefined {
  let parsed: { family: 4 | 6; value: bigint };
  try {
    parsed = parseAddress(text);
  } catch (err) {
    if (err instanceof AddressError) return err.message;
    throw err;
  }
  if (parsed.family !== net.subnet.family) {
    return `${text} is IPv${String(parsed.family)}; Network ${net.name} is ${net.subnet.cidr}`;
  }
  if (!contains(net.subnet, parsed.value)) {
    return `${text} is not inside ${net.subnet.cidr} (Network ${net.name})`;
  }
  const usable = usableRange(net.subnet);
  if (parsed.value < usable.first || parsed.value > usable.last) {
    return `${text} is not a usable address of ${net.subnet.cidr}`;
  }
  if (parsed.value === net.gateway) return `${text} is the gateway of Network ${net.name}`;
  if (net.reserved.some((r) => parsed.value >= r.first && parsed.value <= r.last)) {
    return `${text} is excluded on Network ${net.name} (exclude_ips)`;
  }
  return undefined;
}

/**
 * The next `count` free addresses, searching from the network's allocation cursor upward and
 * wrapping around once, reading the addresses in use a window at a time.
 */
async function nextFree(
  tx: ModelTx,
  net: NetworkPlan,
  count: number,
  taken: Set<bigint>,
): Promise<bigint[]> {
  const usable = usableRange(net.subnet);
  const family = net.subnet.family;
  const c = await tx.client.query<{ next: string }>(
    'SELECT host(next_address) AS next FROM syncord_ipam_cursor WHERE network_id = $1',
    [net.id],
  );
  let origin = usable.first;
  const stored = c.rows[0]?.next;
  if (stored) {
    const v = parseAddress(stored);
    if (v.family === family && v.value >= usable.first && v.value <= usable.last) origin = v.value;
  }
  const out: bigint[] = [];
  let start = origin;
  let wrapped = false;
  let loadedTo = start - 1n;
  const load = async (from: bigint) => {
    const r = await tx.client.query<{ a: string }>(
      `SELECT host(address) AS a FROM syncord_ipam_address
        WHERE network_id = $1 AND address >= $2::inet ORDER BY address LIMIT ${String(WINDOW)}`,
      [net.id, formatAddress(family, from)],
    );
    for (const row of r.rows) taken.add(parseAddress(row.a).value);
    loadedTo =
      r.rows.length < WINDOW ? usable.last : parseAddress(r.rows[r.rows.length - 1]!.a).value;
  };
  await load(start);
  while (out.length < count) {
    const found =
      start > usable.last
        ? undefined
        : firstFree(net.subnet, net.reserved, (v) => taken.has(v), start);
    if (found !== undefined && wrapped && found >= origin) break;
    if (found === undefined) {
      if (wrapped) break;
      wrapped = true;
      start = usable.first;
      await load(start);
      continue;
    }
    if (found > loadedTo) {
      await load(loadedTo + 1n);
      continue;
    }
    out.push(found);
    taken.add(found);
    start = found + 1n;
  }
  if (out.length) {
    const after = out[out.length - 1]! + 1n;
    const next = after > usable.last ? usable.first : after;
    await tx.client.query(
      `INSERT INTO syncord_ipam_cursor (network_id, next_address) VALUES ($1, $2::inet)
       ON CONFLICT (network_id) DO UPDATE SET next_address = EXCLUDED.next_address`,
      [net.id, formatAddress(family, next)],
    );
  }
  return out;
}

/**
 * A Network's address plan may change only where it keeps every allocated address valid: the
 * subnet not at all while addresses are allocated, the gateway and exclude_ips not onto an
 * address in use.
 */
export async function checkNetworkPlanChange(
  tx: ModelTx,
  networkId: number,
  current: Record<string, unknown>,
  changed: Record<string, unknown>,
): Promise<FieldProblem[]> {
  if (!('subnet' in changed) && !('gateway' in changed) && !('exclude_ips' in changed)) return [];
  await tx.client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, networkId]);
  const problems: FieldProblem[] = [];
  if ('subnet' in changed) {
    const r = await tx.client.query<HeldRow & { n: number }>(
      `SELECT count(*) OVER ()::int AS n, port_id, held_by FROM syncord_ipam_address
        WHERE network_id = $1 ORDER BY port_id NULLS LAST LIMIT 1`,
      [networkId],
    );
    const first = r.rows[0];
    if (first) {
      const holder = await describeHolders(tx, [first]);
      problems.push({
        field: 'subnet',
        reason: `cannot change while ${String(first.n)} addresses are allocated on it (e.g. to ${holder(first)})`,
      });
    }
    return problems;
  }
  const after = { ...current, ...changed };
  const next = plan(
    networkId,
    after.name as string,
    after.subnet as string,
    (after.gateway as string | null) ?? null,
    (after.exclude_ips as string | null) ?? null,
  );
  const ranges = next.reserved;
  const params: unknown[] = [networkId];
  const conds = ranges.map((r) => {
    params.push(
      formatAddress(next.subnet.family, r.first),
      formatAddress(next.subnet.family, r.last),
    );
    return `(address >= $${String(params.length - 1)}::inet AND address <= $${String(params.length)}::inet)`;
  });
  const r = await tx.client.query<HeldRow & { address: string }>(
    `SELECT host(address) AS address, port_id, held_by FROM syncord_ipam_address
      WHERE network_id = $1 AND (${conds.join(' OR ')}) ORDER BY address LIMIT 5`,
    params,
  );
  if (r.rows.length) {
    const holder = await describeHolders(tx, r.rows);
    const list = r.rows.map((x) => `${x.address} (${holder(x)})`).join(', ');
    const field = 'gateway' in changed ? 'gateway' : 'exclude_ips';
    problems.push({ field, reason: `would take addresses in use: ${list}` });
  }
  return problems;
}
