// The reference VTN server's state: service networks, service ports and hosts, validated as
// ONOS-VTN validates them, kept in memory and persisted to a file so that a restart keeps them.
//
// Persistence is a snapshot (`<file>`) and a journal (`<file>.journal`, one JSON line per change).
// Every change is appended to the journal before its call is answered; the writes of changes made
// in the same turn of the event loop go out together. Past a few thousand lines the journal is
// folded into a new snapshot (written aside and renamed over the old one, then the journal is
// emptied); the journal's lines are idempotent puts and deletes, so replaying one that the
// snapshot already holds changes nothing. A torn last line (a crash mid-write) is ignored.
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename, writeFile, type FileHandle } from 'node:fs/promises';
import {
  AddressError,
  contains,
  formatAddress,
  macToOnos,
  parseAddress,
  parseCidr,
  type Subnet,
} from '../../models/ipam/address.js';

export const NETWORK_TYPES = [
  'PRIVATE',
  'PUBLIC',
  'FLAT',
  'MANAGEMENT_HOST',
  'MANAGEMENT_LOCAL',
  'VSG',
  'ACCESS_AGENT',
] as const;
export type VtnNetworkType = (typeof NETWORK_TYPES)[number];

/** ONOS's VlanId.NONE as an unsigned 32-bit number. */
export const VLAN_NONE = 4294967295;
/** The provider id VTN's hosts carry. */
export const VTN_PROVIDER = { scheme: 'host', id: 'org.opencord.vtn', ancillary: false };
/** Annotations VTN requires on its hosts. */
export const HOST_ANNOTATIONS = ['networkId', 'networkType', 'portId', 'createTime'] as const;

export interface Network {
  id: string;
  name: string;
  type: VtnNetworkType;
  segment_id: number;
  subnet: string;
  service_ip: string;
  providers: { id: string; type: 'UNIDIRECTIONAL' | 'BIDIRECTIONAL' }[];
  annotations: Record<string, string>;
}

export interface Port {
  id: string;
  network_id: string;
  name: string;
  mac_address: string;
  ip_address: string;
  vlan_id?: number;
  floating_address_pairs: { ip_address: string; mac_address: string }[];
  annotations: Record<string, string>;
}

export interface Host {
  /** "<MAC>/<vlan>", ONOS's HostId text ("FA:16:3E:00:00:01/None" for untagged). */
  key: string;
  mac: string;
  vlan: number;
  location: { device_id: string; port_number: string; time: string };
  ip_addresses: string[];
  configured: boolean;
  provider_id: { scheme: string; id: string; ancillary: boolean };
  annotations: Record<string, string>;
}

export type Kind = 'network' | 'port' | 'host';
export type Code = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION';

/** A refused call: its gRPC code, and a message naming the field and the reason. */
export class VtnError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'VtnError';
  }
}

export interface StoreEvent {
  type: 'ADDED' | 'UPDATED' | 'REMOVED';
  kind: Kind;
  object: Network | Port | Host;
  revision: number;
}

type JournalLine =
  | { op: 'put'; kind: 'network'; value: Network }
  | { op: 'put'; kind: 'port'; value: Port }
  | { op: 'put'; kind: 'host'; value: Host }
  | { op: 'del'; kind: Kind; id: string };

const bad = (field: string, reason: string) =>
  new VtnError('INVALID_ARGUMENT', `${field}: ${reason}`, field);

export const hostKey = (mac: string, vlan: number): string =>
  `${mac}/${vlan === VLAN_NONE ? 'None' : String(vlan)}`;

function text(value: unknown, field: string, options: { required?: boolean; max?: number } = {}) {
  if (value === undefined || value === null || value === '') {
    if (options.required) throw bad(field, 'is required');
    return '';
  }
  if (typeof value !== 'string') throw bad(field, `must be a string, not ${typeof value}`);
  if (value.length > (options.max ?? 255)) {
    throw bad(field, `is longer than ${String(options.max ?? 255)} characters`);
  }
  return value;
}

function annotations(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(field, 'must be a map');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`${field}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}

function address(value: unknown, field: string, required = false): string {
  const t = text(value, field, { required, max: 64 });
  if (!t) return '';
  try {
    const a = parseAddress(t);
    return formatAddress(a.family, a.value);
  } catch (err) {
    throw bad(field, err instanceof AddressError ? err.reason : `${t} is not an IP address`);
  }
}

function mac(value: unknown, field: string, required = false): string {
  const t = text(value, field, { required, max: 32 });
  if (!t) return '';
  try {
    return macToOnos(t);
  } catch (err) {
    throw bad(field, err instanceof AddressError ? err.reason : `${t} is not a MAC address`);
  }
}

function subnet(value: unknown, field: string): Subnet {
  const t = text(value, field, { required: true, max: 64 });
  try {
    return parseCidr(t);
  } catch (err) {
    throw bad(field, err instanceof AddressError ? err.reason : `${t} is not a CIDR`);
  }
}

function inside(s: Subnet, ip: string): boolean {
  const a = parseAddress(ip);
  return a.family === s.family && contains(s, a.value);
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function matches(annotationsOf: Record<string, string>, wanted: Record<string, string> = {}) {
  return Object.entries(wanted).every(([k, v]) => annotationsOf[k] === v);
}

/** Journal lines past which the journal is folded into the snapshot. */
const COMPACT_AFTER = 5000;

export class VtnStore extends EventEmitter<{ change: [StoreEvent] }> {
  readonly networks = new Map<string, Network>();
  readonly ports = new Map<string, Port>();
  readonly hosts = new Map<string, Host>();
  revision = 0;
  private journal: FileHandle | undefined;
  private journalLines = 0;
  private pending: { line: string; done: () => void; fail: (err: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private compacting = false;

  private constructor(private readonly file: string | undefined) {
    super();
    this.setMaxListeners(0);
  }

  /** Opens the store: from its files when `file` is given (made on first write), else in memory. */
  static async open(file?: string): Promise<VtnStore> {
    const store = new VtnStore(file);
    if (file) {
      if (existsSync(file)) {
        const snap = JSON.parse(readFileSync(file, 'utf8')) as {
          networks?: Network[];
          ports?: Port[];
          hosts?: Host[];
        };
        for (const n of snap.networks ?? []) store.networks.set(n.id, n);
        for (const p of snap.ports ?? []) store.ports.set(p.id, p);
        for (const h of snap.hosts ?? []) store.hosts.set(h.key, h);
      }
      const journal = `${file}.journal`;
      if (existsSync(journal)) {
        for (const raw of readFileSync(journal, 'utf8').split('\n')) {
          if (!raw.trim()) continue;
          let line: JournalLine;
          try {
            line = JSON.parse(raw) as JournalLine;
          } catch {
            continue; // a torn last line
          }
          store.replay(line);
          store.journalLines++;
        }
      }
      store.journal = await open(journal, 'a');
    }
    return store;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.journal?.close();
    this.journal = undefined;
  }

  private replay(line: JournalLine): void {
    if (line.op === 'put') {
      if (line.kind === 'network') this.networks.set(line.value.id, line.value);
      else if (line.kind === 'port') this.ports.set(line.value.id, line.value);
      else this.hosts.set(line.value.key, line.value);
    } else {
      this.mapOf(line.kind).delete(line.id);
    }
  }

  private mapOf(kind: Kind): Map<string, Network | Port | Host> {
    return kind === 'network' ? this.networks : kind === 'port' ? this.ports : this.hosts;
  }

  /** Records a change: applied in memory now, answered once it is in the journal. */
  private async commit(
    line: JournalLine,
    type: StoreEvent['type'],
    removed?: Network | Port | Host,
  ): Promise<void> {
    this.replay(line);
    this.revision++;
    const object = line.op === 'put' ? line.value : removed;
    if (object) this.emit('change', { type, kind: line.kind, object, revision: this.revision });
    if (!this.file) return;
    await new Promise<void>((done, fail) => {
      this.pending.push({ line: `${JSON.stringify(line)}\n`, done, fail });
      this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      try {
        if (!this.journal) throw new Error('the VTN store is closed');
        await this.journal.write(batch.map((b) => b.line).join(''));
        this.journalLines += batch.length;
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.fail(err);
      }
    }
    this.flushing = undefined;
    if (this.journalLines > COMPACT_AFTER && !this.compacting) await this.compact();
  }

  /** Folds the journal into a new snapshot. */
  private async compact(): Promise<void> {
    if (!this.file || !this.journal) return;
    this.compacting = true;
    try {
      const tmp = `${this.file}.tmp`;
      const linesAtSnapshot = this.journalLines;
      await writeFile(tmp, JSON.stringify(this.snapshot()));
      await rename(tmp, this.file);
      // The journal starts afresh only if no change came in while the snapshot was written
      // (those would be in the journal and not in the snapshot); otherwise it is kept, and
      // replaying its lines over the new snapshot is harmless.
      if (this.journalLines === linesAtSnapshot && !this.flushing && this.pending.length === 0) {
        await this.journal.truncate(0);
        this.journalLines = 0;
      }
    } finally {
      this.compacting = false;
    }
  }

  snapshot(): { networks: Network[]; ports: Port[]; hosts: Host[] } {
    return {
      networks: [...this.networks.values()],
      ports: [...this.ports.values()],
      hosts: [...this.hosts.values()],
    };
  }

  // -------------------------------------------------------------------------------------------
  // Networks

  /** A network as the caller sent it, checked and in canonical form (no cross-object checks). */
  checkNetwork(input: Record<string, unknown> | undefined | null): Network {
    if (!input) throw bad('network', 'is required');
    const id = text(input.id, 'network.id', { required: true });
    const type = input.type;
    if (typeof type !== 'string' || !(NETWORK_TYPES as readonly string[]).includes(type)) {
      throw bad('network.type', `must be one of ${NETWORK_TYPES.join(', ')}`);
    }
    const seg = Number(input.segment_id ?? 0);
    if (!Number.isInteger(seg) || seg < 1 || seg > 16777215) {
      throw bad('network.segment_id', 'must be a VNI from 1 to 16777215');
    }
    const s = subnet(input.subnet, 'network.subnet');
    const serviceIp = address(input.service_ip, 'network.service_ip');
    if (serviceIp && !inside(s, serviceIp)) {
      throw bad('network.service_ip', `${serviceIp} is not inside the subnet ${s.cidr}`);
    }
    const providers: Network['providers'] = [];
    const raw = input.providers ?? [];
    if (!Array.isArray(raw)) throw bad('network.providers', 'must be a list');
    raw.forEach((p: unknown, i) => {
      const f = `network.providers[${String(i)}]`;
      if (!p || typeof p !== 'object') throw bad(f, 'must be a provider');
      const o = p as Record<string, unknown>;
      const pid = text(o.id, `${f}.id`, { required: true });
      if (pid === id) throw bad(`${f}.id`, 'a network cannot provide for itself');
      const t = o.type ?? 'UNIDIRECTIONAL';
      if (t !== 'UNIDIRECTIONAL' && t !== 'BIDIRECTIONAL') {
        throw bad(`${f}.type`, 'must be UNIDIRECTIONAL or BIDIRECTIONAL');
      }
      if (providers.some((x) => x.id === pid)) throw bad(`${f}.id`, `${pid} is given twice`);
      providers.push({ id: pid, type: t });
    });
    return {
      id,
      name: text(input.name, 'network.name'),
      type: type as VtnNetworkType,
      segment_id: seg,
      subnet: s.cidr,
      service_ip: serviceIp,
      providers,
      annotations: annotations(input.annotations, 'network.annotations'),
    };
  }

  private checkNetworkAgainstOthers(n: Network): void {
    const s = parseCidr(n.subnet);
    for (const other of this.networks.values()) {
      if (other.id === n.id) continue;
      if (other.segment_id === n.segment_id) {
        throw new VtnError(
          'FAILED_PRECONDITION',
          `network.segment_id: ${String(n.segment_id)} is network ${other.id}'s`,
          'network.segment_id',
        );
      }
    }
    for (const p of n.providers) {
      if (!this.networks.has(p.id)) {
        throw new VtnError(
          'FAILED_PRECONDITION',
          `network.providers: provider network ${p.id} does not exist`,
          'network.providers',
        );
      }
    }
    const current = this.networks.get(n.id);
    if (current && current.subnet !== n.subnet) {
      for (const port of this.ports.values()) {
        if (port.network_id === n.id && port.ip_address && !inside(s, port.ip_address)) {
          throw new VtnError(
            'FAILED_PRECONDITION',
            `network.subnet: port ${port.id}'s address ${port.ip_address} would be outside ${n.subnet}`,
            'network.subnet',
          );
        }
      }
    }
  }

  async createNetwork(input: Record<string, unknown> | undefined | null): Promise<Network> {
    const n = this.checkNetwork(input);
    const current = this.networks.get(n.id);
    if (current) {
      if (sameJson(current, n)) return current;
      throw new VtnError(
        'ALREADY_EXISTS',
        `network.id: network ${n.id} exists with other values`,
        'network.id',
      );
    }
    this.checkNetworkAgainstOthers(n);
    await this.commit({ op: 'put', kind: 'network', value: n }, 'ADDED');
    return n;
  }

  async updateNetwork(
    input: Record<string, unknown> | undefined | null,
    allowMissing: boolean,
  ): Promise<Network> {
    const n = this.checkNetwork(input);
    const current = this.networks.get(n.id);
    if (!current && !allowMissing) {
      throw new VtnError('NOT_FOUND', `network.id: no network ${n.id}`, 'network.id');
    }
    if (current && sameJson(current, n)) return current;
    this.checkNetworkAgainstOthers(n);
    await this.commit({ op: 'put', kind: 'network', value: n }, current ? 'UPDATED' : 'ADDED');
    return n;
  }

  getNetwork(id: string): Network {
    const n = this.networks.get(id);
    if (!n) throw new VtnError('NOT_FOUND', `id: no network ${id}`, 'id');
    return n;
  }

  async deleteNetwork(id: string, allowMissing: boolean): Promise<boolean> {
    const n = this.networks.get(id);
    if (!n) {
      if (allowMissing) return false;
      throw new VtnError('NOT_FOUND', `id: no network ${id}`, 'id');
    }
    const ports = [...this.ports.values()].filter((p) => p.network_id === id);
    if (ports.length) {
      throw new VtnError(
        'FAILED_PRECONDITION',
        `id: network ${id} still has ${String(ports.length)} port(s), e.g. ${ports[0]!.id}`,
        'id',
      );
    }
    const user = [...this.networks.values()].find((o) => o.providers.some((p) => p.id === id));
    if (user) {
      throw new VtnError(
        'FAILED_PRECONDITION',
        `id: network ${id} is a provider of network ${user.id}`,
        'id',
      );
    }
    await this.commit({ op: 'del', kind: 'network', id }, 'REMOVED', n);
    return true;
  }

  listNetworks(wanted?: Record<string, string>): Network[] {
    return [...this.networks.values()].filter((n) => matches(n.annotations, wanted));
  }

  // -------------------------------------------------------------------------------------------
  // Ports

  checkPort(input: Record<string, unknown> | undefined | null): Port {
    if (!input) throw bad('port', 'is required');
    const id = text(input.id, 'port.id', { required: true });
    const networkId = text(input.network_id, 'port.network_id', { required: true });
    let vlan: number | undefined;
    if (input.vlan_id !== undefined && input.vlan_id !== null) {
      vlan = Number(input.vlan_id);
      if (!Number.isInteger(vlan) || vlan < 1 || vlan > 4094) {
        throw bad('port.vlan_id', 'must be from 1 to 4094 (absent when untagged)');
      }
    }
    const pairs: Port['floating_address_pairs'] = [];
    const raw = input.floating_address_pairs ?? [];
    if (!Array.isArray(raw)) throw bad('port.floating_address_pairs', 'must be a list');
    raw.forEach((p: unknown, i) => {
      const f = `port.floating_address_pairs[${String(i)}]`;
      const o = (p ?? {}) as Record<string, unknown>;
      pairs.push({
        ip_address: address(o.ip_address, `${f}.ip_address`, true),
        mac_address: mac(o.mac_address, `${f}.mac_address`, true),
      });
    });
    const port: Port = {
      id,
      network_id: networkId,
      name: text(input.name, 'port.name'),
      mac_address: mac(input.mac_address, 'port.mac_address'),
      ip_address: address(input.ip_address, 'port.ip_address'),
      floating_address_pairs: pairs,
      annotations: annotations(input.annotations, 'port.annotations'),
    };
    if (vlan !== undefined) port.vlan_id = vlan;
    return port;
  }

  private checkPortAgainstOthers(p: Port): void {
    const net = this.networks.get(p.network_id);
    if (!net) {
      throw new VtnError(
        'FAILED_PRECONDITION',
        `port.network_id: network ${p.network_id} does not exist`,
        'port.network_id',
      );
    }
    if (p.ip_address && !inside(parseCidr(net.subnet), p.ip_address)) {
      throw bad(
        'port.ip_address',
        `${p.ip_address} is not inside network ${net.id}'s ${net.subnet}`,
      );
    }
    const current = this.ports.get(p.id);
    if (current && current.network_id !== p.network_id && this.hostOfPort(p.id)) {
      throw new VtnError(
        'FAILED_PRECONDITION',
        `port.network_id: port ${p.id} has a host; it cannot move to another network`,
        'port.network_id',
      );
    }
  }

  private hostOfPort(portId: string): Host | undefined {
    for (const h of this.hosts.values()) if (h.annotations.portId === portId) return h;
    return undefined;
  }

  async createPort(input: Record<string, unknown> | undefined | null): Promise<Port> {
    const p = this.checkPort(input);
    const current = this.ports.get(p.id);
    if (current) {
      if (sameJson(current, p)) return current;
      throw new VtnError(
        'ALREADY_EXISTS',
        `port.id: port ${p.id} exists with other values`,
        'port.id',
      );
    }
    this.checkPortAgainstOthers(p);
    await this.commit({ op: 'put', kind: 'port', value: p }, 'ADDED');
    return p;
  }

  async updatePort(
    input: Record<string, unknown> | undefined | null,
    allowMissing: boolean,
  ): Promise<Port> {
    const p = this.checkPort(input);
    const current = this.ports.get(p.id);
    if (!current && !allowMissing) {
      throw new VtnError('NOT_FOUND', `port.id: no port ${p.id}`, 'port.id');
    }
    if (current && sameJson(current, p)) return current;
    this.checkPortAgainstOthers(p);
    await this.commit({ op: 'put', kind: 'port', value: p }, current ? 'UPDATED' : 'ADDED');
    return p;
  }

  getPort(id: string): Port {
    const p = this.ports.get(id);
    if (!p) throw new VtnError('NOT_FOUND', `id: no port ${id}`, 'id');
    return p;
  }

  async deletePort(id: string, allowMissing: boolean): Promise<boolean> {
    const p = this.ports.get(id);
    if (!p) {
      if (allowMissing) return false;
      throw new VtnError('NOT_FOUND', `id: no port ${id}`, 'id');
    }
    const host = this.hostOfPort(id);
    if (host) {
      throw new VtnError('FAILED_PRECONDITION', `id: host ${host.key} is on port ${id}`, 'id');
    }
    await this.commit({ op: 'del', kind: 'port', id }, 'REMOVED', p);
    return true;
  }

  listPorts(networkId?: string, wanted?: Record<string, string>): Port[] {
    return [...this.ports.values()].filter(
      (p) => (!networkId || p.network_id === networkId) && matches(p.annotations, wanted),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Hosts

  private hostIdOf(input: Record<string, unknown> | undefined | null, field: string) {
    if (!input) throw bad(field, 'is required');
    const m = mac(input.mac, `${field}.mac`, true);
    const vlan = Number(input.vlan_id ?? VLAN_NONE);
    if (!Number.isInteger(vlan) || (vlan !== VLAN_NONE && (vlan < 1 || vlan > 4094))) {
      throw bad(`${field}.vlan_id`, 'must be 1..4094, or 4294967295 (untagged)');
    }
    return { mac: m, vlan, key: hostKey(m, vlan) };
  }

  async hostDetected(
    hostIdInput: Record<string, unknown> | undefined | null,
    description: Record<string, unknown> | undefined | null,
    replaceIps: boolean,
    providerId?: Record<string, unknown> | null,
  ): Promise<{ host: Host; changed: boolean }> {
    const id = this.hostIdOf(hostIdInput, 'host_id');
    if (!description) throw bad('description', 'is required');
    const hw = mac(description.hw_address, 'description.hw_address', true);
    if (hw !== id.mac) {
      throw bad('description.hw_address', `${hw} is not the host id's MAC ${id.mac}`);
    }
    const vlan = Number(description.vlan ?? VLAN_NONE);
    if (vlan !== id.vlan) {
      throw bad('description.vlan', `${String(vlan)} is not the host id's VLAN ${String(id.vlan)}`);
    }
    const notes = annotations(description.annotations, 'description.annotations');
    for (const key of HOST_ANNOTATIONS) {
      if (!notes[key]) throw bad(`description.annotations.${key}`, 'is required by VTN');
    }
    if (!(NETWORK_TYPES as readonly string[]).includes(notes.networkType!)) {
      throw bad(
        'description.annotations.networkType',
        `must be one of ${NETWORK_TYPES.join(', ')}`,
      );
    }
    if (!/^\d+$/.test(notes.createTime!)) {
      throw bad('description.annotations.createTime', 'must be milliseconds since the epoch');
    }
    const ipsRaw = description.ip_addresses ?? [];
    if (!Array.isArray(ipsRaw)) throw bad('description.ip_addresses', 'must be a list');
    const ips = ipsRaw.map((ip, i) => address(ip, `description.ip_addresses[${String(i)}]`, true));
    const loc = (description.location ?? {}) as Record<string, unknown>;
    const cp = (loc.connect_point ?? {}) as Record<string, unknown>;
    const location = {
      device_id: text(cp.device_id, 'description.location.connect_point.device_id'),
      port_number: text(cp.port_number, 'description.location.connect_point.port_number'),
      time: typeof loc.time === 'string' || typeof loc.time === 'number' ? String(loc.time) : '0',
    };
    const isAccessAgent = notes.networkType === 'ACCESS_AGENT';
    if (!isAccessAgent) {
      const net = this.networks.get(notes.networkId!);
      if (!net) {
        throw new VtnError(
          'FAILED_PRECONDITION',
          `description.annotations.networkId: network ${notes.networkId!} does not exist`,
          'description.annotations.networkId',
        );
      }
      if (!this.ports.has(notes.portId!)) {
        throw new VtnError(
          'FAILED_PRECONDITION',
          `description.annotations.portId: port ${notes.portId!} does not exist`,
          'description.annotations.portId',
        );
      }
    }
    const provider = providerId
      ? {
          scheme: text(providerId.scheme, 'provider_id.scheme', { required: true }),
          id: text(providerId.id, 'provider_id.id', { required: true }),
          ancillary: providerId.ancillary === true,
        }
      : VTN_PROVIDER;
    const current = this.hosts.get(id.key);
    const addresses = replaceIps ? ips : [...new Set([...(current?.ip_addresses ?? []), ...ips])];
    const host: Host = {
      key: id.key,
      mac: id.mac,
      vlan: id.vlan,
      location,
      ip_addresses: addresses,
      configured: description.configured === true,
      provider_id: provider,
      annotations: notes,
    };
    if (current && sameJson(current, host)) return { host: current, changed: false };
    await this.commit({ op: 'put', kind: 'host', value: host }, current ? 'UPDATED' : 'ADDED');
    return { host, changed: true };
  }

  async hostVanished(hostIdInput: Record<string, unknown> | undefined | null): Promise<boolean> {
    const id = this.hostIdOf(hostIdInput, 'host_id');
    const current = this.hosts.get(id.key);
    if (!current) return false;
    await this.commit({ op: 'del', kind: 'host', id: id.key }, 'REMOVED', current);
    return true;
  }

  async removeIpFromHost(
    hostIdInput: Record<string, unknown> | undefined | null,
    ip: unknown,
  ): Promise<{ host: Host; changed: boolean }> {
    const id = this.hostIdOf(hostIdInput, 'host_id');
    const addr = address(ip, 'ip_address', true);
    const current = this.hosts.get(id.key);
    if (!current) throw new VtnError('NOT_FOUND', `host_id: no host ${id.key}`, 'host_id');
    if (!current.ip_addresses.includes(addr)) return { host: current, changed: false };
    const host = { ...current, ip_addresses: current.ip_addresses.filter((a) => a !== addr) };
    await this.commit({ op: 'put', kind: 'host', value: host }, 'UPDATED');
    return { host, changed: true };
  }

  listHosts(wanted?: Record<string, string>): Host[] {
    return [...this.hosts.values()].filter((h) => matches(h.annotations, wanted));
  }
}
