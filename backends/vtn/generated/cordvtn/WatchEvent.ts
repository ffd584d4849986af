// Original file: protos/onos/vtn/VtnService.proto

import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from '../cordvtn/ServiceNetwork.js';
import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from '../cordvtn/ServicePort.js';
import type { HostProto as _net_HostProto, HostProto__Output as _net_HostProto__Output } from '../net/HostProto.js';
import type { Long } from '@grpc/proto-loader';

// Original file: protos/onos/vtn/VtnService.proto

export const _cordvtn_WatchEvent_Type = {
  ADDED: 'ADDED',
  UPDATED: 'UPDATED',
  REMOVED: 'REMOVED',
  /**
   * The initial state has been sent (only with initial).
   */
  SYNCED: 'SYNCED',
} as const;

export type _cordvtn_WatchEvent_Type =
  | 'ADDED'
  | 0
  | 'UPDATED'
  | 1
  | 'REMOVED'
  | 2
  /**
   * The initial state has been sent (only with initial).
   */
  | 'SYNCED'
  | 3

export type _cordvtn_WatchEvent_Type__Output = typeof _cordvtn_WatchEvent_Type[keyof typeof _cordvtn_WatchEvent_Type]

export interface WatchEvent {
  'type'?: (_cordvtn_WatchEvent_Type);
  'network'?: (_cordvtn_ServiceNetwork | null);
  'port'?: (_cordvtn_ServicePort | null);
  'host'?: (_net_HostProto | null);
  /**
   * Increases by one with every change the server commits.
   */
  'revision'?: (number | string | Long);
  'object'?: "network"|"port"|"host";
}

export interface WatchEvent__Output {
  'type': (_cordvtn_WatchEvent_Type__Output);
  'network'?: (_cordvtn_ServiceNetwork__Output | null);
  'port'?: (_cordvtn_ServicePort__Output | null);
  'host'?: (_net_HostProto__Output | null);
  /**
   * Increases by one with every change the server commits.
   */
  'revision': (string);
  'object'?: "network"|"port"|"host";
}
