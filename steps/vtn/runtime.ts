// What the VTN steps share: the options, one client, and the translation of VTN's refusals into
// what the engine records.
import { VtnCallError, VtnClient, type VtnClientOptions } from '../../backends/vtn/client.js';
import type { ServiceNetwork__Output } from '../../backends/vtn/generated/cordvtn/ServiceNetwork.js';
import type { ServicePort__Output } from '../../backends/vtn/generated/cordvtn/ServicePort.js';
import { WaitingError } from '../../synchronizer/engine.js';
import { resolveInstance } from '../ovn/names.js';
import * as grpc from '@grpc/grpc-js';

export interface VtnStepOptions {
  /** The VTN server, host:port (e.g. $SYNCORD_VTN_ADDRESS). */
  address: string;
  /** This deployment's name in the annotations; default $SYNCORD_INSTANCE, else `syncord`. */
  instance?: string;
  client?: VtnClientOptions;
  /** How often the observer lists VTN's objects to remove strays (default 5 minutes). */
  sweepMs?: number;
  log?: (line: string) => void;
}

export class VtnRuntime {
  readonly instance: string;
  readonly log: (line: string) => void;
  private current: VtnClient | undefined;

  constructor(readonly options: VtnStepOptions) {
    this.instance = resolveInstance(options.instance);
    this.log = options.log ?? (() => undefined);
  }

  /**
   * The client, made on first use and again after close(): the steps outlive an engine (a
   * replica that loses leadership stops its engine, closing this, and starts a new one with the
   * same steps when it leads again), and a closed gRPC channel cannot be reopened.
   */
  get client(): VtnClient {
    return (this.current ??= new VtnClient(this.options.address, this.options.client));
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
  }

  /** Writes a service network back as VTN has it, with other annotations (marks on or off). */
  reannotateNetwork(have: ServiceNetwork__Output, annotations: Record<string, string>) {
    return this.client.putNetwork({
      id: have.id,
      name: have.name,
      type: have.type,
      segment_id: have.segment_id,
      subnet: have.subnet,
      service_ip: have.service_ip,
      providers: have.providers.map((p) => ({ id: p.id, type: p.type })),
      annotations,
    });
  }

  /** Writes a service port back as VTN has it, with other annotations (marks on or off). */
  reannotatePort(have: ServicePort__Output, annotations: Record<string, string>) {
    return this.client.putPort({
      id: have.id,
      network_id: have.network_id,
      name: have.name,
      mac_address: have.mac_address,
      ip_address: have.ip_address,
      ...(have.vlan_id !== undefined ? { vlan_id: have.vlan_id } : {}),
      floating_address_pairs: have.floating_address_pairs.map((p) => ({
        ip_address: p.ip_address,
        mac_address: p.mac_address,
      })),
      annotations,
    });
  }
}

/**
 * Runs a VTN call for a step: a refusal because something it needs is not in VTN yet (a network
 * for a port, a provider network) makes the step wait instead of fail; the rest is an error with
 * VTN's words (the engine backs off and retries).
 */
export async function vtnCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof VtnCallError && err.code === grpc.status.FAILED_PRECONDITION) {
      if (/does not exist/.test(err.details)) {
        throw new WaitingError(`waiting: VTN says ${err.details} (${what})`, 2000);
      }
    }
    throw err;
  }
}
