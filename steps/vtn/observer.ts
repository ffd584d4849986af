// The VTN observer: a replica of the VTN server's networks, ports and hosts, kept by its Watch
// stream, which
// - lets the steps skip a call whose object VTN already has as wanted (a resync costs no RPC),
// - queues the owner of an object of this deployment that someone else changed or removed,
// - refills VTN when the stream comes back after a break (a restarted server may be empty):
//   every Network and Port is queued again,
// - and sweeps strays: objects with this deployment's marks whose owner is gone (or, for a host,
//   whose port's MAC is no longer the host's) are removed, hosts first. Objects without the
//   marks are never touched.
import type { Network, Port } from '../../backends/vtn/store.js';
import type { WatchEvent__Output } from '../../backends/vtn/generated/cordvtn/WatchEvent.js';
import type { HostDetectedRequest } from '../../backends/vtn/generated/cordvtn/HostDetectedRequest.js';
import type { HostProto__Output } from '../../backends/vtn/generated/net/HostProto.js';
import { VTN_PROVIDER } from '../../backends/vtn/store.js';
import { listAll, type ModelObject } from '../../models/service.js';
import type { StepContext } from '../../synchronizer/engine.js';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { macToOnos } from '../../models/ipam/address.js';
import { INSTANCE_KEY, ownerOf } from './names.js';
import type { WantedNetwork } from './network.js';
import type { VtnRuntime } from './runtime.js';

type Plain<T> = { [K in keyof T]?: unknown };

const keyOfHost = (h: { host_id?: { mac?: string; vlan_id?: number } | null }) =>
  `${String(h.host_id?.mac)}/${String(h.host_id?.vlan_id)}`;

export class VtnObserver {
  readonly networks = new Map<string, Plain<Network> & { annotations?: Record<string, string> }>();
  readonly ports = new Map<string, Plain<Port> & { annotations?: Record<string, string> }>();
  readonly hosts = new Map<string, HostProto__Output>();
  /** Whether the replica holds the server's state (the stream is up and past its SYNCED). */
  synced = false;
  private ctx: StepContext | undefined;
  private stream: ClientReadableStream<WatchEvent__Output> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private everSynced = false;
  private started = 0;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly rt: VtnRuntime) {}

  /** Starts with the first step that starts; later calls share it. */
  start(ctx: StepContext): Promise<void> {
    if (this.started++ > 0) return Promise.resolve();
    this.ctx = ctx;
    this.connect(200);
    const every = this.rt.options.sweepMs ?? 5 * 60_000;
    this.sweepTimer = setInterval(() => {
      void this.sweep().catch((err: unknown) => {
        this.rt.log(`vtn: sweep failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    }, every);
    this.sweepTimer.unref();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.started === 0) return;
    if (--this.started > 0) return;
    this.ctx = undefined;
    clearTimeout(this.retry);
    clearInterval(this.sweepTimer);
    this.stream?.cancel();
    this.stream = undefined;
    await this.sweeping?.catch(() => undefined);
    this.rt.close();
  }

  private connect(delayMs: number): void {
    if (!this.ctx) return;
    this.synced = false;
    this.networks.clear();
    this.ports.clear();
    this.hosts.clear();
    const stream = this.rt.client.watch(true);
    this.stream = stream;
    stream.on('data', (e: WatchEvent__Output) => {
      this.apply(e);
    });
    stream.on('error', (err: Error) => {
      if (this.stream !== stream || !this.ctx) return;
      if (this.synced || this.everSynced) {
        this.rt.log(`vtn: watch broke (${err.message}); reconnecting`);
      }
      this.synced = false;
      this.stream = undefined;
      this.retry = setTimeout(() => {
        this.connect(Math.min(delayMs * 2, 5000));
      }, delayMs);
      this.retry.unref();
    });
  }

  private apply(e: WatchEvent__Output): void {
    if (e.type === 'SYNCED') {
      this.synced = true;
      // After a break, VTN may have lost what it had (a restart with no state): refill it.
      if (this.everSynced) void this.refill();
      this.everSynced = true;
      void this.sweep().catch(() => undefined);
      return;
    }
    const removed = e.type === 'REMOVED';
    let annotations: Record<string, string> | undefined;
    if (e.network) {
      annotations = e.network.annotations;
      if (removed) this.networks.delete(e.network.id);
      else this.networks.set(e.network.id, e.network);
    } else if (e.port) {
      annotations = e.port.annotations;
      if (removed) this.ports.delete(e.port.id);
      else this.ports.set(e.port.id, e.port);
    } else if (e.host) {
      annotations = e.host.annotations;
      const key = keyOfHost(e.host);
      if (removed) this.hosts.delete(key);
      else this.hosts.set(key, e.host);
    }
    // Changed or removed by someone (or by us): the owner runs again and puts it right.
    if (this.synced && e.type !== 'ADDED') {
      const owner = ownerOf(this.rt.instance, annotations);
      if (owner) this.ctx?.enqueue(owner.model, owner.id);
    }
  }

  /** Whether VTN has this port (by the replica), as wanted. */
  hasPort(want: {
    id: string;
    network_id: string;
    name: string;
    mac_address: string;
    ip_address: string;
    annotations: Record<string, string>;
  }): boolean {
    if (!this.synced) return false;
    const p = this.ports.get(want.id);
    return (
      p !== undefined &&
      p.network_id === want.network_id &&
      p.name === want.name &&
      p.mac_address === macToOnos(want.mac_address) &&
      p.ip_address === want.ip_address &&
      p.vlan_id === undefined &&
      Array.isArray(p.floating_address_pairs) &&
      p.floating_address_pairs.length === 0 &&
      sameMap(p.annotations, want.annotations)
    );
  }

  /** Whether VTN has this network (by the replica), as wanted. */
  hasNetwork(want: WantedNetwork): boolean {
    if (!this.synced) return false;
    const n = this.networks.get(want.id);
    if (!n) return false;
    const providers = Array.isArray(n.providers)
      ? (n.providers as { id: string; type: string }[])
      : [];
    return (
      n.name === want.name &&
      n.type === want.type &&
      String(n.segment_id) === String(want.segment_id) &&
      n.subnet === want.subnet &&
      n.service_ip === want.service_ip &&
      providers.length === want.providers.length &&
      providers.every(
        (p, i) => p.id === want.providers[i]!.id && p.type === want.providers[i]!.type,
      ) &&
      sameMap(n.annotations, want.annotations)
    );
  }

  /**
   * Whether VTN has this host (by the replica) as a HostDetected of it would leave it: the same
   * place, addresses (replaced), annotations and VTN's provider. A resync of running ports then
   * sends nothing.
   */
  hasHost(want: HostDetectedRequest): boolean {
    if (!this.synced || !want.host_id || !want.description) return false;
    const h = this.hosts.get(keyOfHost({ host_id: want.host_id }));
    if (!h) return false;
    const d = want.description;
    const cp = d.location?.connect_point;
    const have = h.location?.connect_point;
    const ips = d.ip_addresses ?? [];
    return (
      want.replace_ips === true &&
      !want.provider_id &&
      have?.device_id === cp?.device_id &&
      have?.port_number === cp?.port_number &&
      (h.location?.time ?? '0') === String(d.location?.time ?? '0') &&
      h.ip_addresses.length === ips.length &&
      ips.every((ip, i) => h.ip_addresses[i] === ip) &&
      h.configured === (d.configured === true) &&
      h.provider_id?.scheme === VTN_PROVIDER.scheme &&
      h.provider_id.id === VTN_PROVIDER.id &&
      h.provider_id.ancillary === VTN_PROVIDER.ancillary &&
      sameMap(h.annotations, d.annotations ?? {})
    );
  }

  /** Whether VTN surely has no host with this MAC (untagged): the replica is synced and lacks it. */
  lacksHost(mac: string): boolean {
    return this.synced && !this.hosts.has(`${mac}/4294967295`);
  }

  /** Queues every Network and Port again. */
  private async refill(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    let n = 0;
    for (const model of ['Network', 'Port']) {
      const all = await listAll(ctx.models, model);
      for (const o of all) ctx.enqueue(model, o.id);
      n += all.length;
    }
    this.rt.log(`vtn: the watch is back; ${String(n)} networks and ports queued to refill VTN`);
  }

  /** Removes this deployment's objects in VTN whose owner is gone. Resolves when done. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const mine = { [INSTANCE_KEY]: this.rt.instance };
    const [hosts, ports, networks] = [
      await this.rt.client.listHosts(mine),
      await this.rt.client.listPorts(mine),
      await this.rt.client.listNetworks(mine),
    ];
    const owners = async (model: string, ids: number[]): Promise<Map<number, ModelObject>> => {
      const out = new Map<number, ModelObject>();
      if (!ctx.models.registry.has(model)) return out;
      for (let i = 0; i < ids.length; i += 1000) {
        for (const o of await ctx.models.getMany(model, ids.slice(i, i + 1000))) out.set(o.id, o);
      }
      return out;
    };
    const ownerIds = (list: { annotations?: Record<string, string> }[], model: string) =>
      list
        .map((x) => ownerOf(this.rt.instance, x.annotations))
        .filter((o): o is { model: string; id: number } => o?.model === model)
        .map((o) => o.id);
    const portOwners = await owners('Port', [
      ...ownerIds(hosts, 'Port'),
      ...ownerIds(ports, 'Port'),
    ]);
    const netOwners = await owners('Network', ownerIds(networks, 'Network'));
    const removed: string[] = [];
    for (const h of hosts) {
      const owner = ownerOf(this.rt.instance, h.annotations);
      const port = owner && portOwners.get(owner.id);
      const mac = h.host_id?.mac ?? '';
      if (port && typeof port.mac === 'string' && macToOnos(port.mac) === mac) continue;
      if (!owner) continue;
      if (await this.rt.client.hostVanished({ mac, vlan_id: h.host_id?.vlan_id ?? 0 })) {
        removed.push(`host ${mac}`);
      }
    }
    for (const p of ports) {
      const owner = ownerOf(this.rt.instance, p.annotations);
      if (!owner || portOwners.has(owner.id)) continue;
      if (await this.rt.client.deletePort(p.id)) removed.push(`port ${p.id}`);
    }
    for (const n of networks) {
      const owner = ownerOf(this.rt.instance, n.annotations);
      if (!owner || netOwners.has(owner.id)) continue;
      try {
        if (await this.rt.client.deleteNetwork(n.id)) removed.push(`network ${n.id}`);
      } catch (err) {
        this.rt.log(
          `vtn: stray network ${n.id} stays: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    if (removed.length) {
      this.rt.log(`vtn: removed strays of ${this.rt.instance}: ${removed.join(', ')}`);
    }
  }
}

function sameMap(a: unknown, b: Record<string, string>): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const x = a as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(b).length && keys.every((k) => x[k] === b[k]);
}
