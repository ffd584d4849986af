// A client of the VtnService contract (protos/onos/vtn/VtnService.proto), as the steps use it:
// every call has a deadline; the idempotent ones (all but Create*) are retried by gRPC's own retry
// policy when the server is unavailable; TLS when configured; errors say which VTN, which call
// and why, in the words an operator reads on an object's status.
import * as grpc from '@grpc/grpc-js';
import type { VtnServiceClient } from './generated/cordvtn/VtnService.js';
import type { ServiceNetwork, ServiceNetwork__Output } from './generated/cordvtn/ServiceNetwork.js';
import type { ServicePort, ServicePort__Output } from './generated/cordvtn/ServicePort.js';
import type { HostDetectedRequest } from './generated/cordvtn/HostDetectedRequest.js';
import type { HostResponse__Output } from './generated/cordvtn/HostResponse.js';
import type { HostProto__Output } from './generated/net/HostProto.js';
import type { HostIdProto } from './generated/net/HostIdProto.js';
import type { WatchEvent__Output } from './generated/cordvtn/WatchEvent.js';
import { SERVICE_NAME, vtnProto } from './proto.js';
import { failpoint } from '../failpoint.js';

export interface VtnClientOptions {
  /** Deadline of each call (default 10 s; SYNCORD_VTN_TIMEOUT_MS). */
  deadlineMs?: number;
  /** TLS: the CA to trust (PEM), and a client certificate and key for mutual TLS. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Attempts of an idempotent call while the server is unavailable (default 3). */
  maxAttempts?: number;
}

/** A call VTN refused or could not answer: the gRPC code, and a sentence for the status. */
export class VtnCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly details: string,
  ) {
    super(message);
    this.name = 'VtnCallError';
  }

  get unavailable(): boolean {
    return this.code === grpc.status.UNAVAILABLE || this.code === grpc.status.DEADLINE_EXCEEDED;
  }
}

const IDEMPOTENT = [
  'UpdateNetwork',
  'GetNetwork',
  'DeleteNetwork',
  'ListNetworks',
  'UpdatePort',
  'GetPort',
  'DeletePort',
  'ListPorts',
  'HostDetected',
  'HostVanished',
  'RemoveIpFromHost',
  'ListHosts',
];

export class VtnClient {
  readonly raw: VtnServiceClient;
  private readonly deadlineMs: number;

  constructor(
    readonly target: string,
    options: VtnClientOptions = {},
  ) {
    const env = Number(process.env.SYNCORD_VTN_TIMEOUT_MS);
    this.deadlineMs = options.deadlineMs ?? (env > 0 ? env : 10_000);
    const creds = options.tls
      ? grpc.credentials.createSsl(
          options.tls.ca ?? null,
          options.tls.key ?? null,
          options.tls.cert ?? null,
        )
      : grpc.credentials.createInsecure();
    const serviceConfig = {
      methodConfig: [
        {
          name: IDEMPOTENT.map((method) => ({ service: SERVICE_NAME, method })),
          retryPolicy: {
            maxAttempts: Math.max(2, options.maxAttempts ?? 3),
            initialBackoff: '0.1s',
            maxBackoff: '1s',
            backoffMultiplier: 2,
            retryableStatusCodes: ['UNAVAILABLE'],
          },
        },
      ],
    };
    const Ctor = vtnProto().grpcType.cordvtn.VtnService;
    this.raw = new Ctor(target, creds, {
      'grpc.service_config': JSON.stringify(serviceConfig),
      'grpc.enable_retries': 1,
      // Reconnect soon after the server comes back (the default backoff grows to two minutes).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5000,
      'grpc.keepalive_time_ms': 30_000,
    });
  }

  close(): void {
    this.raw.close();
  }

  /** One call with its deadline; the answer is untrusted until the caller has checked it. */
  private call(method: string, request: object): Promise<Record<string, unknown>> {
    type Unary = (
      req: object,
      options: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: unknown) => void,
    ) => void;
    const fn = (this.raw as unknown as Record<string, Unary>)[method]!;
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.deadlineMs);
      fn.call(this.raw, request, { deadline }, (err, res) => {
        if (err) reject(this.explain(method, err));
        else if (typeof res !== 'object' || res === null) {
          reject(garbage(this.target, method, 'no message'));
        } else resolve(res as Record<string, unknown>);
      });
    });
  }

  /** The sentence for a failed call. */
  private explain(method: string, err: grpc.ServiceError): VtnCallError {
    const details = err.details || err.message;
    let sentence: string;
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
        sentence = `VTN at ${this.target} unreachable (${details})`;
        break;
      case grpc.status.DEADLINE_EXCEEDED:
        sentence = `VTN at ${this.target} did not answer ${method} within ${String(this.deadlineMs / 1000)} s`;
        break;
      case grpc.status.INTERNAL:
      case grpc.status.UNKNOWN:
      case grpc.status.UNIMPLEMENTED:
        sentence = `VTN at ${this.target} gave a bad answer to ${method} (${grpc.status[err.code]}: ${details})`;
        break;
      default:
        sentence = `VTN refused ${method} (${grpc.status[err.code]}): ${details}`;
    }
    return new VtnCallError(err.code, sentence, details);
  }

  /** A call's answer, or undefined when VTN said NOT_FOUND. */
  private async orNotFound<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof VtnCallError && err.code === grpc.status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  // Networks ------------------------------------------------------------------------------------

  /** Create-or-update (idempotent). */
  async putNetwork(network: ServiceNetwork): Promise<ServiceNetwork__Output> {
    const r = await this.call('UpdateNetwork', { network, allow_missing: true });
    failpoint('vtn-write');
    return checked(r, this.target, 'UpdateNetwork', 'network');
  }

  /** The network with this id, or undefined when VTN has none. */
  async getNetwork(id: string): Promise<ServiceNetwork__Output | undefined> {
    const r = await this.orNotFound(() => this.call('GetNetwork', { id }));
    return r && checked(r, this.target, 'GetNetwork', 'network');
  }

  async deleteNetwork(id: string): Promise<boolean> {
    const r = await this.call('DeleteNetwork', { id, allow_missing: true });
    failpoint('vtn-write');
    return r.deleted === true;
  }

  async listNetworks(annotations: Record<string, string> = {}): Promise<ServiceNetwork__Output[]> {
    const r = await this.call('ListNetworks', { annotations });
    return list(r.networks, this.target, 'ListNetworks', 'network');
  }

  // Ports ---------------------------------------------------------------------------------------

  async putPort(port: ServicePort): Promise<ServicePort__Output> {
    const r = await this.call('UpdatePort', { port, allow_missing: true });
    failpoint('vtn-write');
    return checked(r, this.target, 'UpdatePort', 'port');
  }

  /** The port with this id, or undefined when VTN has none. */
  async getPort(id: string): Promise<ServicePort__Output | undefined> {
    const r = await this.orNotFound(() => this.call('GetPort', { id }));
    return r && checked(r, this.target, 'GetPort', 'port');
  }

  async deletePort(id: string): Promise<boolean> {
    const r = await this.call('DeletePort', { id, allow_missing: true });
    failpoint('vtn-write');
    return r.deleted === true;
  }

  async listPorts(
    annotations: Record<string, string> = {},
    networkId = '',
  ): Promise<ServicePort__Output[]> {
    const r = await this.call('ListPorts', { annotations, network_id: networkId });
    return list(r.ports, this.target, 'ListPorts', 'port');
  }

  // Hosts ---------------------------------------------------------------------------------------

  async hostDetected(request: HostDetectedRequest): Promise<HostResponse__Output> {
    const r = await this.call('HostDetected', request);
    failpoint('vtn-write');
    hostChecked(r.host, this.target, 'HostDetected');
    return r as unknown as HostResponse__Output;
  }

  async hostVanished(hostId: HostIdProto): Promise<boolean> {
    const r = await this.call('HostVanished', { host_id: hostId });
    failpoint('vtn-write');
    return r.removed === true;
  }

  async listHosts(annotations: Record<string, string> = {}): Promise<HostProto__Output[]> {
    const r = await this.call('ListHosts', { annotations });
    if (!Array.isArray(r.hosts)) throw garbage(this.target, 'ListHosts', 'no list of hosts');
    return r.hosts.map((h) => hostChecked(h, this.target, 'ListHosts'));
  }

  /** The server's changes as they happen (after the current state, with `initial`). */
  watch(initial: boolean): grpc.ClientReadableStream<WatchEvent__Output> {
    return this.raw.Watch({ initial });
  }

  /** Resolves once the channel is connected, or rejects after `ms`. */
  waitForReady(ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raw.waitForReady(new Date(Date.now() + ms), (err) => {
        if (err)
          reject(
            new VtnCallError(
              grpc.status.UNAVAILABLE,
              `VTN at ${this.target} unreachable (${err.message})`,
              err.message,
            ),
          );
        else resolve();
      });
    });
  }
}

function garbage(target: string, method: string, what: string): VtnCallError {
  return new VtnCallError(
    grpc.status.INTERNAL,
    `VTN at ${target} gave a bad answer to ${method}: ${what}`,
    what,
  );
}

/** A network or port of an answer, with the id every use needs. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names what it expects
function checked<T>(value: unknown, target: string, method: string, what: string): T {
  if (typeof value !== 'object' || value === null) throw garbage(target, method, `no ${what}`);
  const id = (value as { id?: unknown }).id;
  if (typeof id !== 'string' || !id) throw garbage(target, method, `a ${what} without an id`);
  return value as T;
}

function list<T>(value: unknown, target: string, method: string, what: string): T[] {
  if (!Array.isArray(value)) throw garbage(target, method, `no list of ${what}s`);
  return value.map((v) => checked<T>(v, target, method, what));
}

function hostChecked(value: unknown, target: string, method: string): HostProto__Output {
  const mac = (value as { host_id?: { mac?: unknown } } | null | undefined)?.host_id?.mac;
  if (typeof mac !== 'string' || !mac) throw garbage(target, method, 'a host without an id');
  return value as HostProto__Output;
}
