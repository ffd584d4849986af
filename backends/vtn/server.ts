// The reference VTN server: the VtnService contract over the VtnStore, with gRPC health checking
// and server reflection (so grpcurl works as is). It is what the tests run against, what the rig
// starts (`syncord vtn-server`), and what an ONOS-side adapter would mirror.
import * as grpc from '@grpc/grpc-js';
import type { HostProto } from './generated/net/HostProto.js';
import type { VtnServiceHandlers } from './generated/cordvtn/VtnService.js';
import type { ServiceNetwork } from './generated/cordvtn/ServiceNetwork.js';
import type { ServicePort } from './generated/cordvtn/ServicePort.js';
import type { WatchEvent } from './generated/cordvtn/WatchEvent.js';
import { addStandardServices, listen, shutdown } from '../grpc/standard.js';
import { SERVICE_NAME, vtnProto } from './proto.js';
import {
  VtnError,
  VtnStore,
  type Host,
  type Network,
  type Port,
  type StoreEvent,
} from './store.js';

export function networkMessage(n: Network): ServiceNetwork {
  return { ...n, segment_id: n.segment_id };
}

export function portMessage(p: Port): ServicePort {
  const { vlan_id, ...rest } = p;
  return vlan_id === undefined ? rest : { ...rest, vlan_id };
}

export function hostMessage(h: Host): HostProto {
  return {
    host_id: { mac: h.mac, vlan_id: h.vlan },
    vlan: h.vlan,
    location: {
      connect_point: { device_id: h.location.device_id, port_number: h.location.port_number },
      time: h.location.time,
    },
    ip_addresses: h.ip_addresses,
    configured: h.configured,
    provider_id: h.provider_id,
    annotations: h.annotations,
  };
}

function eventMessage(e: StoreEvent): WatchEvent {
  const base = { type: e.type, revision: e.revision };
  if (e.kind === 'network') return { ...base, network: networkMessage(e.object as Network) };
  if (e.kind === 'port') return { ...base, port: portMessage(e.object as Port) };
  return { ...base, host: hostMessage(e.object as Host) };
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof VtnError) return { code: grpc.status[err.code], details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** A unary handler from an async function: its error becomes the call's status. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => {
          callback(null, res);
        },
        (err: unknown) => {
          callback(toStatus(err));
        },
      );
  };
}

type Plain = Record<string, unknown> | undefined | null;

export function vtnHandlers(store: VtnStore): VtnServiceHandlers {
  return {
    CreateNetwork: unary(async (req) =>
      networkMessage(await store.createNetwork(req.network as Plain)),
    ),
    UpdateNetwork: unary(async (req) =>
      networkMessage(await store.updateNetwork(req.network as Plain, req.allow_missing)),
    ),
    GetNetwork: unary((req) => networkMessage(store.getNetwork(req.id))),
    DeleteNetwork: unary(async (req) => ({
      deleted: await store.deleteNetwork(req.id, req.allow_missing),
    })),
    ListNetworks: unary((req) => ({
      networks: store.listNetworks(req.annotations).map(networkMessage),
    })),
    CreatePort: unary(async (req) => portMessage(await store.createPort(req.port as Plain))),
    UpdatePort: unary(async (req) =>
      portMessage(await store.updatePort(req.port as Plain, req.allow_missing)),
    ),
    GetPort: unary((req) => portMessage(store.getPort(req.id))),
    DeletePort: unary(async (req) => ({
      deleted: await store.deletePort(req.id, req.allow_missing),
    })),
    ListPorts: unary((req) => ({
      ports: store.listPorts(req.network_id, req.annotations).map(portMessage),
    })),
    HostDetected: unary(async (req) => {
      const { host, changed } = await store.hostDetected(
        req.host_id as Plain,
        req.description as Plain,
        req.replace_ips,
        req.provider_id as Plain,
      );
      return { host: hostMessage(host), changed };
    }),
    HostVanished: unary(async (req) => ({
      removed: await store.hostVanished(req.host_id as Plain),
    })),
    RemoveIpFromHost: unary(async (req) => {
      const { host, changed } = await store.removeIpFromHost(req.host_id as Plain, req.ip_address);
      return { host: hostMessage(host), changed };
    }),
    ListHosts: unary((req) => ({ hosts: store.listHosts(req.annotations).map(hostMessage) })),
    Watch(call) {
      const queue: WatchEvent[] = [];
      let waiting = false;
      const send = (e: WatchEvent) => {
        if (waiting) {
          queue.push(e);
          return;
        }
        if (!call.write(e)) waiting = true;
      };
      call.on('drain', () => {
        waiting = false;
        while (queue.length && !waiting) if (!call.write(queue.shift()!)) waiting = true;
      });
      const onChange = (e: StoreEvent) => {
        send(eventMessage(e));
      };
      store.on('change', onChange);
      const stop = () => store.off('change', onChange);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      if (call.request.initial) {
        const revision = store.revision;
        for (const n of store.networks.values()) {
          send({ type: 'ADDED', revision, network: networkMessage(n) });
        }
        for (const p of store.ports.values())
          send({ type: 'ADDED', revision, port: portMessage(p) });
        for (const h of store.hosts.values())
          send({ type: 'ADDED', revision, host: hostMessage(h) });
        send({ type: 'SYNCED', revision });
      }
    },
  };
}

export interface VtnServer {
  /** "127.0.0.1:50051": where it listens. */
  address: string;
  port: number;
  store: VtnStore;
  close(): Promise<void>;
}

/**
 * Starts a VTN server on `listen` ("127.0.0.1:0" for any free port) with its state in `stateFile`
 * (in memory when absent). TLS when `tls` gives a key and certificate (PEM).
 */
export async function startVtnServer(options: {
  listen: string;
  stateFile?: string;
  tls?: { key: Buffer; cert: Buffer };
}): Promise<VtnServer> {
  const store = await VtnStore.open(options.stateFile);
  const { definition, grpcType } = vtnProto();
  const server = new grpc.Server();
  server.addService(grpcType.cordvtn.VtnService.service, vtnHandlers(store));
  addStandardServices(server, definition, [SERVICE_NAME]);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { private_key: options.tls.key, cert_chain: options.tls.cert },
      ])
    : grpc.ServerCredentials.createInsecure();
  const { address, port } = await listen(server, options.listen, credentials);
  return {
    address,
    port,
    store,
    async close() {
      await shutdown(server);
      await store.close();
    },
  };
}
