// Adoption from OVN (synchronizer/adopt.ts): logical switches and their switch ports that carry no
// Syncord ids become Networks and Ports, and the steps' adopt() puts the owner ids on them.
//
// A candidate is offered only as what Syncord's sync would leave exactly as it is, so that
// adopting changes nothing but the external_ids: a switch with `other_config:subnet` (IPv4) whose
// `exclude_ips` starts with its gateway (Syncord always excludes the gateway), no DHCP_Options for
// its subnet and no router port (DHCP options and routers are derived from the model, and would
// be replaced), adopted as a FLAT network (the types Syncord routes would get a router port); a
// switch port with one "MAC IP" address, port_security equal to it, and no DHCP
// options. Anything else is listed with the reason it cannot be adopted yet. A Port belongs to a
// ServiceInstance: the filter's `instance` names the one the adopted ports are given (an OVN row
// does not say whose interface it is).
import { asStringMap, mutate, type Operation, type Row } from '../../backends/ovn/ovsdb.js';
import {
  AddressError,
  formatAddress,
  formatExcludeIps,
  normalizeMac,
  parseAddress,
  parseCidr,
  parseExcludeIps,
} from '../../models/ipam/address.js';
import type { ModelObject } from '../../models/service.js';
import {
  instanceOf,
  networkIdentity,
  portIdentity,
  type AdoptCandidate,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import type { StepContext } from '../../synchronizer/engine.js';
import type { Database } from './connection.js';
import { INSTANCE_KEY, lspName, NETWORK_KEY, ownerIds, ownerOfRow, switchName } from './names.js';
import { networkOf } from './port.js';
import { byUuid, ids, strings, text, uuid, write, type OvnRuntime } from './runtime.js';

const SWITCH = 'Logical_Switch';
const LSP = 'Logical_Switch_Port';

/** Whether a row carries any of Syncord's ids (of any deployment). */
const marked = (row: Row) => Object.keys(ids(row)).some((k) => k.startsWith('syncord-'));

interface SwitchView {
  values: Record<string, unknown>;
  detail: string;
  problem?: string;
}

/** What a switch would be as a Network, and why it cannot be adopted as it is, if so. */
function switchView(db: Database, ls: Row): SwitchView {
  const other = asStringMap(ls.other_config ?? {});
  const name = text(ls.name);
  // On no router: FLAT (Syncord puts PRIVATE, PUBLIC and VSG networks on its router, and would
  // add a router port).
  const values: Record<string, unknown> = { name, provider: 'ovn', type: 'FLAT', dhcp: false };
  const ports = strings(ls, 'ports');
  const detail = `${other.subnet ?? 'no subnet'}, ${String(ports.length)} port${ports.length === 1 ? '' : 's'}`;
  if (!other.subnet) {
    return { values, detail, problem: 'it has no other_config:subnet (a Network needs one)' };
  }
  let subnet;
  try {
    subnet = parseCidr(other.subnet);
  } catch (err) {
    return { values, detail, problem: `other_config:subnet: ${(err as Error).message}` };
  }
  if (subnet.family !== 4) {
    return { values, detail, problem: 'only IPv4 switches can be adopted yet' };
  }
  values.subnet = subnet.cidr;
  let ranges;
  try {
    ranges = parseExcludeIps(subnet, other.exclude_ips ?? '');
  } catch (err) {
    const why = err instanceof AddressError ? err.message : String(err);
    return { values, detail, problem: `other_config:exclude_ips: ${why}` };
  }
  const first = ranges[0];
  if (!first || first.first !== first.last) {
    return {
      values,
      detail,
      problem:
        'other_config:exclude_ips does not start with its gateway (Syncord excludes the gateway, so it would change the switch)',
    };
  }
  values.gateway = formatAddress(4, first.first);
  if (ranges.length > 1) values.exclude_ips = formatExcludeIps(4, ranges.slice(1));
  const dhcp = db.monitor
    .rows('DHCP_Options')
    .find((r) => text(r.cidr) === subnet.cidr && !marked(r));
  if (dhcp) {
    return {
      values,
      detail,
      problem: `DHCP_Options for ${subnet.cidr} exist (Syncord derives its DHCP options from the model and would replace them)`,
    };
  }
  const lsps = new Map(db.monitor.rows(LSP).map((r) => [uuid(r), r]));
  if (ports.some((p) => text(lsps.get(p)?.type) === 'router')) {
    return {
      values,
      detail,
      problem: 'it is connected to a router (routed switches cannot be adopted yet)',
    };
  }
  return { values, detail };
}

/** What a switch port would be as a Port, or why it cannot be adopted as it is. */
function portView(lsp: Row): { values: Record<string, unknown>; detail: string; problem?: string } {
  const addresses = strings(lsp, 'addresses');
  const name = text(lsp.name);
  const values: Record<string, unknown> = { name };
  const detail = addresses.length ? addresses.map((a) => `"${a}"`).join(' ') : 'no addresses';
  if (text(lsp.type) !== '') {
    return { values, detail, problem: `its type is ${text(lsp.type)} (only plain ports)` };
  }
  const parts = addresses.length === 1 ? addresses[0]!.split(/\s+/) : [];
  if (parts.length !== 2) {
    return { values, detail, problem: 'it needs exactly one address "MAC IP"' };
  }
  try {
    values.mac = normalizeMac(parts[0]!);
    values.ip = formatAddress(4, parseAddress(parts[1]!).value);
  } catch (err) {
    return { values, detail, problem: `addresses: ${(err as Error).message}` };
  }
  const security = strings(lsp, 'port_security');
  if (security.length !== 1 || security[0] !== addresses[0]) {
    return {
      values,
      detail,
      problem: 'its port_security is not its address (Syncord sets it to the address)',
    };
  }
  if (lsp.dhcpv4_options !== undefined && text(lsp.dhcpv4_options) !== '') {
    return {
      values,
      detail,
      problem: 'it has DHCP options (Syncord derives them from its network)',
    };
  }
  return { values, detail };
}

/** Switches and their ports without Syncord ids, as candidates. */
export function ovnAdoptSource(rt: OvnRuntime): AdoptSource {
  return {
    backend: 'ovn',
    async discover(models, filter) {
      const kinds = filter.kinds?.length ? new Set(filter.kinds) : undefined;
      const db = await rt.northbound();
      const instance = await instanceOf(models, filter);
      const out: AdoptCandidate[] = [];
      const switchKey = (ls: Row) => `ovn/${SWITCH}/${text(ls.name)}`;
      // Networks Syncord has (its own switches, and adopted ones), by switch uuid.
      const ours = new Map<string, number>();
      for (const ls of db.monitor.rows(SWITCH)) {
        const owner = ownerOfRow(rt.instance, ids(ls));
        if (owner?.model === 'Network') ours.set(uuid(ls), owner.id);
      }
      const lsps = new Map(db.monitor.rows(LSP).map((r) => [uuid(r), r]));
      for (const ls of db.monitor.rows(SWITCH)) {
        const name = text(ls.name);
        // Neutron's switches are OpenStack's (adopted from Neutron, not from OVN).
        if (name.startsWith('neutron-')) continue;
        const switchIsOurs = ours.has(uuid(ls));
        if (!switchIsOurs && marked(ls)) continue; // another deployment's
        if (!switchIsOurs && (!kinds || kinds.has(SWITCH))) {
          const view = switchView(db, ls);
          out.push({
            key: switchKey(ls),
            backend: 'ovn',
            kind: SWITCH,
            name,
            detail: view.detail,
            model: 'Network',
            values: view.values,
            handle: { [`ovn/${SWITCH}`]: name },
            ...(typeof view.values.subnet === 'string'
              ? { identity: networkIdentity(view.values.subnet) }
              : {}),
            // The switch keeps its name (the handle), whatever the Network's.
            guessed: ['name'],
            ...(view.problem ? { problem: view.problem } : {}),
          });
        }
        if (kinds && !kinds.has(LSP)) continue;
        for (const id of strings(ls, 'ports')) {
          const lsp = lsps.get(id);
          if (!lsp || marked(lsp) || text(lsp.type) === 'router') continue;
          const view = portView(lsp);
          const problem = view.problem ?? (typeof instance === 'string' ? instance : undefined);
          const network = ours.get(uuid(ls));
          out.push({
            key: `ovn/${LSP}/${text(lsp.name)}`,
            backend: 'ovn',
            kind: LSP,
            name: text(lsp.name),
            detail: `${view.detail} on ${name}`,
            model: 'Port',
            values: {
              ...view.values,
              ...(network !== undefined ? { network_id: network } : {}),
              ...(typeof instance === 'string' ? {} : { service_instance_id: instance.id }),
            },
            ...(network === undefined ? { refs: { network_id: switchKey(ls) } } : {}),
            handle: { [`ovn/${LSP}`]: text(lsp.name) },
            ...(typeof view.values.mac === 'string'
              ? { identity: portIdentity(view.values.mac) }
              : {}),
            // A switch port does not say whose interface it is; it keeps its name (the handle).
            guessed: ['service_instance_id', 'name'],
            ...(problem ? { problem } : {}),
            ...(problem && !view.problem ? { guessOnly: true } : {}),
          });
        }
      }
      return out;
    },
  };
}

/** The row of a table named `name` that an adopted object was made from. */
function named(db: Database, table: string, name: string): Row | undefined {
  return db.monitor.rows(table).find((r) => text(r.name) === name);
}

/**
 * Adds owner ids to an adopted object's row: only the keys missing; refused when the row is
 * another owner's.
 */
async function mark(
  rt: OvnRuntime,
  db: Database,
  table: string,
  row: Row,
  owner: { model: string; id: number },
  want: Record<string, string>,
): Promise<string> {
  const have = ids(row);
  const other = ownerOfRow(rt.instance, have);
  if (other && (other.model !== owner.model || other.id !== owner.id)) {
    throw new Error(`${table} ${text(row.name)} belongs to ${other.model} ${String(other.id)}`);
  }
  if (have[INSTANCE_KEY] !== undefined && have[INSTANCE_KEY] !== rt.instance) {
    throw new Error(
      `${table} ${text(row.name)} belongs to Syncord deployment ${have[INSTANCE_KEY]}`,
    );
  }
  const add = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
  if (Object.keys(add).length === 0) return `${table} ${text(row.name)} marked already`;
  const stale = Object.keys(add).filter((k) => k in have);
  const ops: Operation[] = [];
  if (stale.length) ops.push(mutate(table, byUuid(uuid(row)), [['external_ids', 'delete', stale]]));
  ops.push(mutate(table, byUuid(uuid(row)), [['external_ids', 'insert', add]]));
  await write(db, ops);
  return `marked ${table} ${text(row.name)}`;
}

/** The Network step's adopt(): Syncord's ids onto the switch it was made from. */
export function adoptNetwork(rt: OvnRuntime) {
  return async (network: ModelObject): Promise<string | undefined> => {
    const name = switchName(network);
    const db = await rt.northbound();
    const ls = named(db, SWITCH, name);
    // Gone since it was listed (or named for another backend's sake): the sync makes it.
    if (!ls) return `Logical_Switch ${name} is not there to mark`;
    return mark(
      rt,
      db,
      SWITCH,
      ls,
      { model: 'Network', id: network.id },
      ownerIds(rt.instance, { model: 'Network', id: network.id }, 'switch'),
    );
  };
}

/** The Port step's adopt(): Syncord's ids onto the switch port it was made from. */
export function adoptPort(rt: OvnRuntime) {
  return async (port: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    const name = lspName(rt.instance, port);
    const network = await networkOf(ctx.models, port);
    const db = await rt.northbound();
    const lsp = named(db, LSP, name);
    // Gone since it was listed, or named by a VTN port's handle (the interface's name): the
    // sync makes it.
    if (!lsp) return `Logical_Switch_Port ${name} is not there to mark`;
    return mark(
      rt,
      db,
      LSP,
      lsp,
      { model: 'Port', id: port.id },
      {
        ...ownerIds(rt.instance, { model: 'Port', id: port.id }, 'port'),
        [NETWORK_KEY]: String(network.id),
      },
    );
  };
}
