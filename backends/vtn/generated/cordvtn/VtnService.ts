// Original file: protos/onos/vtn/VtnService.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateNetworkRequest as _cordvtn_CreateNetworkRequest, CreateNetworkRequest__Output as _cordvtn_CreateNetworkRequest__Output } from '../cordvtn/CreateNetworkRequest.js';
import type { CreatePortRequest as _cordvtn_CreatePortRequest, CreatePortRequest__Output as _cordvtn_CreatePortRequest__Output } from '../cordvtn/CreatePortRequest.js';
import type { DeleteNetworkRequest as _cordvtn_DeleteNetworkRequest, DeleteNetworkRequest__Output as _cordvtn_DeleteNetworkRequest__Output } from '../cordvtn/DeleteNetworkRequest.js';
import type { DeletePortRequest as _cordvtn_DeletePortRequest, DeletePortRequest__Output as _cordvtn_DeletePortRequest__Output } from '../cordvtn/DeletePortRequest.js';
import type { DeleteResponse as _cordvtn_DeleteResponse, DeleteResponse__Output as _cordvtn_DeleteResponse__Output } from '../cordvtn/DeleteResponse.js';
import type { GetNetworkRequest as _cordvtn_GetNetworkRequest, GetNetworkRequest__Output as _cordvtn_GetNetworkRequest__Output } from '../cordvtn/GetNetworkRequest.js';
import type { GetPortRequest as _cordvtn_GetPortRequest, GetPortRequest__Output as _cordvtn_GetPortRequest__Output } from '../cordvtn/GetPortRequest.js';
import type { HostDetectedRequest as _cordvtn_HostDetectedRequest, HostDetectedRequest__Output as _cordvtn_HostDetectedRequest__Output } from '../cordvtn/HostDetectedRequest.js';
import type { HostResponse as _cordvtn_HostResponse, HostResponse__Output as _cordvtn_HostResponse__Output } from '../cordvtn/HostResponse.js';
import type { HostVanishedRequest as _cordvtn_HostVanishedRequest, HostVanishedRequest__Output as _cordvtn_HostVanishedRequest__Output } from '../cordvtn/HostVanishedRequest.js';
import type { HostVanishedResponse as _cordvtn_HostVanishedResponse, HostVanishedResponse__Output as _cordvtn_HostVanishedResponse__Output } from '../cordvtn/HostVanishedResponse.js';
import type { ListHostsRequest as _cordvtn_ListHostsRequest, ListHostsRequest__Output as _cordvtn_ListHostsRequest__Output } from '../cordvtn/ListHostsRequest.js';
import type { ListHostsResponse as _cordvtn_ListHostsResponse, ListHostsResponse__Output as _cordvtn_ListHostsResponse__Output } from '../cordvtn/ListHostsResponse.js';
import type { ListNetworksRequest as _cordvtn_ListNetworksRequest, ListNetworksRequest__Output as _cordvtn_ListNetworksRequest__Output } from '../cordvtn/ListNetworksRequest.js';
import type { ListNetworksResponse as _cordvtn_ListNetworksResponse, ListNetworksResponse__Output as _cordvtn_ListNetworksResponse__Output } from '../cordvtn/ListNetworksResponse.js';
import type { ListPortsRequest as _cordvtn_ListPortsRequest, ListPortsRequest__Output as _cordvtn_ListPortsRequest__Output } from '../cordvtn/ListPortsRequest.js';
import type { ListPortsResponse as _cordvtn_ListPortsResponse, ListPortsResponse__Output as _cordvtn_ListPortsResponse__Output } from '../cordvtn/ListPortsResponse.js';
import type { RemoveIpFromHostRequest as _cordvtn_RemoveIpFromHostRequest, RemoveIpFromHostRequest__Output as _cordvtn_RemoveIpFromHostRequest__Output } from '../cordvtn/RemoveIpFromHostRequest.js';
import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from '../cordvtn/ServiceNetwork.js';
import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from '../cordvtn/ServicePort.js';
import type { UpdateNetworkRequest as _cordvtn_UpdateNetworkRequest, UpdateNetworkRequest__Output as _cordvtn_UpdateNetworkRequest__Output } from '../cordvtn/UpdateNetworkRequest.js';
import type { UpdatePortRequest as _cordvtn_UpdatePortRequest, UpdatePortRequest__Output as _cordvtn_UpdatePortRequest__Output } from '../cordvtn/UpdatePortRequest.js';
import type { WatchEvent as _cordvtn_WatchEvent, WatchEvent__Output as _cordvtn_WatchEvent__Output } from '../cordvtn/WatchEvent.js';
import type { WatchRequest as _cordvtn_WatchRequest, WatchRequest__Output as _cordvtn_WatchRequest__Output } from '../cordvtn/WatchRequest.js';

export interface VtnServiceClient extends grpc.Client {
  /**
   * Creates a network. ALREADY_EXISTS when the id exists with other values (an identical one is
   * returned as is); FAILED_PRECONDITION when a provider is missing or the segment id is another
   * network's.
   */
  CreateNetwork(argument: _cordvtn_CreateNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  CreateNetwork(argument: _cordvtn_CreateNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  CreateNetwork(argument: _cordvtn_CreateNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  CreateNetwork(argument: _cordvtn_CreateNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a network. ALREADY_EXISTS when the id exists with other values (an identical one is
   * returned as is); FAILED_PRECONDITION when a provider is missing or the segment id is another
   * network's.
   */
  createNetwork(argument: _cordvtn_CreateNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  createNetwork(argument: _cordvtn_CreateNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  createNetwork(argument: _cordvtn_CreateNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  createNetwork(argument: _cordvtn_CreateNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  
  /**
   * Creates a port. FAILED_PRECONDITION when its network is missing; INVALID_ARGUMENT when its
   * address is outside the network's subnet; ALREADY_EXISTS as for networks.
   */
  CreatePort(argument: _cordvtn_CreatePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  CreatePort(argument: _cordvtn_CreatePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  CreatePort(argument: _cordvtn_CreatePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  CreatePort(argument: _cordvtn_CreatePortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a port. FAILED_PRECONDITION when its network is missing; INVALID_ARGUMENT when its
   * address is outside the network's subnet; ALREADY_EXISTS as for networks.
   */
  createPort(argument: _cordvtn_CreatePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  createPort(argument: _cordvtn_CreatePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  createPort(argument: _cordvtn_CreatePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  createPort(argument: _cordvtn_CreatePortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  
  /**
   * FAILED_PRECONDITION while ports or hosts are on it, or another network names it a provider.
   */
  DeleteNetwork(argument: _cordvtn_DeleteNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeleteNetwork(argument: _cordvtn_DeleteNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeleteNetwork(argument: _cordvtn_DeleteNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeleteNetwork(argument: _cordvtn_DeleteNetworkRequest, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * FAILED_PRECONDITION while ports or hosts are on it, or another network names it a provider.
   */
  deleteNetwork(argument: _cordvtn_DeleteNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deleteNetwork(argument: _cordvtn_DeleteNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deleteNetwork(argument: _cordvtn_DeleteNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deleteNetwork(argument: _cordvtn_DeleteNetworkRequest, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * FAILED_PRECONDITION while a host names it.
   */
  DeletePort(argument: _cordvtn_DeletePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeletePort(argument: _cordvtn_DeletePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeletePort(argument: _cordvtn_DeletePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  DeletePort(argument: _cordvtn_DeletePortRequest, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * FAILED_PRECONDITION while a host names it.
   */
  deletePort(argument: _cordvtn_DeletePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deletePort(argument: _cordvtn_DeletePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deletePort(argument: _cordvtn_DeletePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  deletePort(argument: _cordvtn_DeletePortRequest, callback: grpc.requestCallback<_cordvtn_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  GetNetwork(argument: _cordvtn_GetNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  GetNetwork(argument: _cordvtn_GetNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  GetNetwork(argument: _cordvtn_GetNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  GetNetwork(argument: _cordvtn_GetNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  getNetwork(argument: _cordvtn_GetNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  getNetwork(argument: _cordvtn_GetNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  getNetwork(argument: _cordvtn_GetNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  getNetwork(argument: _cordvtn_GetNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  
  GetPort(argument: _cordvtn_GetPortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  GetPort(argument: _cordvtn_GetPortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  GetPort(argument: _cordvtn_GetPortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  GetPort(argument: _cordvtn_GetPortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  getPort(argument: _cordvtn_GetPortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  getPort(argument: _cordvtn_GetPortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  getPort(argument: _cordvtn_GetPortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  getPort(argument: _cordvtn_GetPortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  
  /**
   * A host was detected (created or updated). INVALID_ARGUMENT when the host id's MAC is not the
   * description's or an annotation VTN needs (networkId, networkType, portId, createTime) is
   * missing; FAILED_PRECONDITION when its network or port is missing.
   */
  HostDetected(argument: _cordvtn_HostDetectedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  HostDetected(argument: _cordvtn_HostDetectedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  HostDetected(argument: _cordvtn_HostDetectedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  HostDetected(argument: _cordvtn_HostDetectedRequest, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  /**
   * A host was detected (created or updated). INVALID_ARGUMENT when the host id's MAC is not the
   * description's or an annotation VTN needs (networkId, networkType, portId, createTime) is
   * missing; FAILED_PRECONDITION when its network or port is missing.
   */
  hostDetected(argument: _cordvtn_HostDetectedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  hostDetected(argument: _cordvtn_HostDetectedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  hostDetected(argument: _cordvtn_HostDetectedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  hostDetected(argument: _cordvtn_HostDetectedRequest, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A host is gone. Succeeds (removed false) when it was not there.
   */
  HostVanished(argument: _cordvtn_HostVanishedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  HostVanished(argument: _cordvtn_HostVanishedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  HostVanished(argument: _cordvtn_HostVanishedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  HostVanished(argument: _cordvtn_HostVanishedRequest, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  /**
   * A host is gone. Succeeds (removed false) when it was not there.
   */
  hostVanished(argument: _cordvtn_HostVanishedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  hostVanished(argument: _cordvtn_HostVanishedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  hostVanished(argument: _cordvtn_HostVanishedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  hostVanished(argument: _cordvtn_HostVanishedRequest, callback: grpc.requestCallback<_cordvtn_HostVanishedResponse__Output>): grpc.ClientUnaryCall;
  
  ListHosts(argument: _cordvtn_ListHostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _cordvtn_ListHostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _cordvtn_ListHostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  ListHosts(argument: _cordvtn_ListHostsRequest, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _cordvtn_ListHostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _cordvtn_ListHostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _cordvtn_ListHostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  listHosts(argument: _cordvtn_ListHostsRequest, callback: grpc.requestCallback<_cordvtn_ListHostsResponse__Output>): grpc.ClientUnaryCall;
  
  ListNetworks(argument: _cordvtn_ListNetworksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _cordvtn_ListNetworksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _cordvtn_ListNetworksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _cordvtn_ListNetworksRequest, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _cordvtn_ListNetworksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _cordvtn_ListNetworksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _cordvtn_ListNetworksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _cordvtn_ListNetworksRequest, callback: grpc.requestCallback<_cordvtn_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  
  ListPorts(argument: _cordvtn_ListPortsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  ListPorts(argument: _cordvtn_ListPortsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  ListPorts(argument: _cordvtn_ListPortsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  ListPorts(argument: _cordvtn_ListPortsRequest, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  listPorts(argument: _cordvtn_ListPortsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  listPorts(argument: _cordvtn_ListPortsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  listPorts(argument: _cordvtn_ListPortsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  listPorts(argument: _cordvtn_ListPortsRequest, callback: grpc.requestCallback<_cordvtn_ListPortsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * NOT_FOUND when the host is missing; the host without that address otherwise.
   */
  RemoveIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  RemoveIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  RemoveIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  RemoveIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  /**
   * NOT_FOUND when the host is missing; the host without that address otherwise.
   */
  removeIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  removeIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  removeIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  removeIpFromHost(argument: _cordvtn_RemoveIpFromHostRequest, callback: grpc.requestCallback<_cordvtn_HostResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Replaces a network. NOT_FOUND when absent unless allow_missing (then it is created).
   */
  UpdateNetwork(argument: _cordvtn_UpdateNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  UpdateNetwork(argument: _cordvtn_UpdateNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  UpdateNetwork(argument: _cordvtn_UpdateNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  UpdateNetwork(argument: _cordvtn_UpdateNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  /**
   * Replaces a network. NOT_FOUND when absent unless allow_missing (then it is created).
   */
  updateNetwork(argument: _cordvtn_UpdateNetworkRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  updateNetwork(argument: _cordvtn_UpdateNetworkRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  updateNetwork(argument: _cordvtn_UpdateNetworkRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  updateNetwork(argument: _cordvtn_UpdateNetworkRequest, callback: grpc.requestCallback<_cordvtn_ServiceNetwork__Output>): grpc.ClientUnaryCall;
  
  UpdatePort(argument: _cordvtn_UpdatePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  UpdatePort(argument: _cordvtn_UpdatePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  UpdatePort(argument: _cordvtn_UpdatePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  UpdatePort(argument: _cordvtn_UpdatePortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  updatePort(argument: _cordvtn_UpdatePortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  updatePort(argument: _cordvtn_UpdatePortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  updatePort(argument: _cordvtn_UpdatePortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  updatePort(argument: _cordvtn_UpdatePortRequest, callback: grpc.requestCallback<_cordvtn_ServicePort__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every change the server commits, in order, from the time of the call.
   */
  Watch(argument: _cordvtn_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cordvtn_WatchEvent__Output>;
  Watch(argument: _cordvtn_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_cordvtn_WatchEvent__Output>;
  /**
   * Every change the server commits, in order, from the time of the call.
   */
  watch(argument: _cordvtn_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cordvtn_WatchEvent__Output>;
  watch(argument: _cordvtn_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_cordvtn_WatchEvent__Output>;
  
}

export interface VtnServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Creates a network. ALREADY_EXISTS when the id exists with other values (an identical one is
   * returned as is); FAILED_PRECONDITION when a provider is missing or the segment id is another
   * network's.
   */
  CreateNetwork: grpc.handleUnaryCall<_cordvtn_CreateNetworkRequest__Output, _cordvtn_ServiceNetwork>;
  
  /**
   * Creates a port. FAILED_PRECONDITION when its network is missing; INVALID_ARGUMENT when its
   * address is outside the network's subnet; ALREADY_EXISTS as for networks.
   */
  CreatePort: grpc.handleUnaryCall<_cordvtn_CreatePortRequest__Output, _cordvtn_ServicePort>;
  
  /**
   * FAILED_PRECONDITION while ports or hosts are on it, or another network names it a provider.
   */
  DeleteNetwork: grpc.handleUnaryCall<_cordvtn_DeleteNetworkRequest__Output, _cordvtn_DeleteResponse>;
  
  /**
   * FAILED_PRECONDITION while a host names it.
   */
  DeletePort: grpc.handleUnaryCall<_cordvtn_DeletePortRequest__Output, _cordvtn_DeleteResponse>;
  
  GetNetwork: grpc.handleUnaryCall<_cordvtn_GetNetworkRequest__Output, _cordvtn_ServiceNetwork>;
  
  GetPort: grpc.handleUnaryCall<_cordvtn_GetPortRequest__Output, _cordvtn_ServicePort>;
  
  /**
   * A host was detected (created or updated). INVALID_ARGUMENT when the host id's MAC is not the
   * description's or an annotation VTN needs (networkId, networkType, portId, createTime) is
   * missing; FAILED_PRECONDITION when its network or port is missing.
   */
  HostDetected: grpc.handleUnaryCall<_cordvtn_HostDetectedRequest__Output, _cordvtn_HostResponse>;
  
  /**
   * A host is gone. Succeeds (removed false) when it was not there.
   */
  HostVanished: grpc.handleUnaryCall<_cordvtn_HostVanishedRequest__Output, _cordvtn_HostVanishedResponse>;
  
  ListHosts: grpc.handleUnaryCall<_cordvtn_ListHostsRequest__Output, _cordvtn_ListHostsResponse>;
  
  ListNetworks: grpc.handleUnaryCall<_cordvtn_ListNetworksRequest__Output, _cordvtn_ListNetworksResponse>;
  
  ListPorts: grpc.handleUnaryCall<_cordvtn_ListPortsRequest__Output, _cordvtn_ListPortsResponse>;
  
  /**
   * NOT_FOUND when the host is missing; the host without that address otherwise.
   */
  RemoveIpFromHost: grpc.handleUnaryCall<_cordvtn_RemoveIpFromHostRequest__Output, _cordvtn_HostResponse>;
  
  /**
   * Replaces a network. NOT_FOUND when absent unless allow_missing (then it is created).
   */
  UpdateNetwork: grpc.handleUnaryCall<_cordvtn_UpdateNetworkRequest__Output, _cordvtn_ServiceNetwork>;
  
  UpdatePort: grpc.handleUnaryCall<_cordvtn_UpdatePortRequest__Output, _cordvtn_ServicePort>;
  
  /**
   * Every change the server commits, in order, from the time of the call.
   */
  Watch: grpc.handleServerStreamingCall<_cordvtn_WatchRequest__Output, _cordvtn_WatchEvent>;
  
}

export interface VtnServiceDefinition extends grpc.ServiceDefinition {
  CreateNetwork: MethodDefinition<_cordvtn_CreateNetworkRequest, _cordvtn_ServiceNetwork, _cordvtn_CreateNetworkRequest__Output, _cordvtn_ServiceNetwork__Output>
  CreatePort: MethodDefinition<_cordvtn_CreatePortRequest, _cordvtn_ServicePort, _cordvtn_CreatePortRequest__Output, _cordvtn_ServicePort__Output>
  DeleteNetwork: MethodDefinition<_cordvtn_DeleteNetworkRequest, _cordvtn_DeleteResponse, _cordvtn_DeleteNetworkRequest__Output, _cordvtn_DeleteResponse__Output>
  DeletePort: MethodDefinition<_cordvtn_DeletePortRequest, _cordvtn_DeleteResponse, _cordvtn_DeletePortRequest__Output, _cordvtn_DeleteResponse__Output>
  GetNetwork: MethodDefinition<_cordvtn_GetNetworkRequest, _cordvtn_ServiceNetwork, _cordvtn_GetNetworkRequest__Output, _cordvtn_ServiceNetwork__Output>
  GetPort: MethodDefinition<_cordvtn_GetPortRequest, _cordvtn_ServicePort, _cordvtn_GetPortRequest__Output, _cordvtn_ServicePort__Output>
  HostDetected: MethodDefinition<_cordvtn_HostDetectedRequest, _cordvtn_HostResponse, _cordvtn_HostDetectedRequest__Output, _cordvtn_HostResponse__Output>
  HostVanished: MethodDefinition<_cordvtn_HostVanishedRequest, _cordvtn_HostVanishedResponse, _cordvtn_HostVanishedRequest__Output, _cordvtn_HostVanishedResponse__Output>
  ListHosts: MethodDefinition<_cordvtn_ListHostsRequest, _cordvtn_ListHostsResponse, _cordvtn_ListHostsRequest__Output, _cordvtn_ListHostsResponse__Output>
  ListNetworks: MethodDefinition<_cordvtn_ListNetworksRequest, _cordvtn_ListNetworksResponse, _cordvtn_ListNetworksRequest__Output, _cordvtn_ListNetworksResponse__Output>
  ListPorts: MethodDefinition<_cordvtn_ListPortsRequest, _cordvtn_ListPortsResponse, _cordvtn_ListPortsRequest__Output, _cordvtn_ListPortsResponse__Output>
  RemoveIpFromHost: MethodDefinition<_cordvtn_RemoveIpFromHostRequest, _cordvtn_HostResponse, _cordvtn_RemoveIpFromHostRequest__Output, _cordvtn_HostResponse__Output>
  UpdateNetwork: MethodDefinition<_cordvtn_UpdateNetworkRequest, _cordvtn_ServiceNetwork, _cordvtn_UpdateNetworkRequest__Output, _cordvtn_ServiceNetwork__Output>
  UpdatePort: MethodDefinition<_cordvtn_UpdatePortRequest, _cordvtn_ServicePort, _cordvtn_UpdatePortRequest__Output, _cordvtn_ServicePort__Output>
  Watch: MethodDefinition<_cordvtn_WatchRequest, _cordvtn_WatchEvent, _cordvtn_WatchRequest__Output, _cordvtn_WatchEvent__Output>
}
