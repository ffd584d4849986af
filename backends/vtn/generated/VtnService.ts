import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AddressPair as _cordvtn_AddressPair, AddressPair__Output as _cordvtn_AddressPair__Output } from './cordvtn/AddressPair.js';
import type { CreateNetworkRequest as _cordvtn_CreateNetworkRequest, CreateNetworkRequest__Output as _cordvtn_CreateNetworkRequest__Output } from './cordvtn/CreateNetworkRequest.js';
import type { CreatePortRequest as _cordvtn_CreatePortRequest, CreatePortRequest__Output as _cordvtn_CreatePortRequest__Output } from './cordvtn/CreatePortRequest.js';
import type { DeleteNetworkRequest as _cordvtn_DeleteNetworkRequest, DeleteNetworkRequest__Output as _cordvtn_DeleteNetworkRequest__Output } from './cordvtn/DeleteNetworkRequest.js';
import type { DeletePortRequest as _cordvtn_DeletePortRequest, DeletePortRequest__Output as _cordvtn_DeletePortRequest__Output } from './cordvtn/DeletePortRequest.js';
import type { DeleteResponse as _cordvtn_DeleteResponse, DeleteResponse__Output as _cordvtn_DeleteResponse__Output } from './cordvtn/DeleteResponse.js';
import type { GetNetworkRequest as _cordvtn_GetNetworkRequest, GetNetworkRequest__Output as _cordvtn_GetNetworkRequest__Output } from './cordvtn/GetNetworkRequest.js';
import type { GetPortRequest as _cordvtn_GetPortRequest, GetPortRequest__Output as _cordvtn_GetPortRequest__Output } from './cordvtn/GetPortRequest.js';
import type { HostDetectedRequest as _cordvtn_HostDetectedRequest, HostDetectedRequest__Output as _cordvtn_HostDetectedRequest__Output } from './cordvtn/HostDetectedRequest.js';
import type { HostResponse as _cordvtn_HostResponse, HostResponse__Output as _cordvtn_HostResponse__Output } from './cordvtn/HostResponse.js';
import type { HostVanishedRequest as _cordvtn_HostVanishedRequest, HostVanishedRequest__Output as _cordvtn_HostVanishedRequest__Output } from './cordvtn/HostVanishedRequest.js';
import type { HostVanishedResponse as _cordvtn_HostVanishedResponse, HostVanishedResponse__Output as _cordvtn_HostVanishedResponse__Output } from './cordvtn/HostVanishedResponse.js';
import type { ListHostsRequest as _cordvtn_ListHostsRequest, ListHostsRequest__Output as _cordvtn_ListHostsRequest__Output } from './cordvtn/ListHostsRequest.js';
import type { ListHostsResponse as _cordvtn_ListHostsResponse, ListHostsResponse__Output as _cordvtn_ListHostsResponse__Output } from './cordvtn/ListHostsResponse.js';
import type { ListNetworksRequest as _cordvtn_ListNetworksRequest, ListNetworksRequest__Output as _cordvtn_ListNetworksRequest__Output } from './cordvtn/ListNetworksRequest.js';
import type { ListNetworksResponse as _cordvtn_ListNetworksResponse, ListNetworksResponse__Output as _cordvtn_ListNetworksResponse__Output } from './cordvtn/ListNetworksResponse.js';
import type { ListPortsRequest as _cordvtn_ListPortsRequest, ListPortsRequest__Output as _cordvtn_ListPortsRequest__Output } from './cordvtn/ListPortsRequest.js';
import type { ListPortsResponse as _cordvtn_ListPortsResponse, ListPortsResponse__Output as _cordvtn_ListPortsResponse__Output } from './cordvtn/ListPortsResponse.js';
import type { Provider as _cordvtn_Provider, Provider__Output as _cordvtn_Provider__Output } from './cordvtn/Provider.js';
import type { RemoveIpFromHostRequest as _cordvtn_RemoveIpFromHostRequest, RemoveIpFromHostRequest__Output as _cordvtn_RemoveIpFromHostRequest__Output } from './cordvtn/RemoveIpFromHostRequest.js';
import type { ServiceNetwork as _cordvtn_ServiceNetwork, ServiceNetwork__Output as _cordvtn_ServiceNetwork__Output } from './cordvtn/ServiceNetwork.js';
import type { ServicePort as _cordvtn_ServicePort, ServicePort__Output as _cordvtn_ServicePort__Output } from './cordvtn/ServicePort.js';
import type { UpdateNetworkRequest as _cordvtn_UpdateNetworkRequest, UpdateNetworkRequest__Output as _cordvtn_UpdateNetworkRequest__Output } from './cordvtn/UpdateNetworkRequest.js';
import type { UpdatePortRequest as _cordvtn_UpdatePortRequest, UpdatePortRequest__Output as _cordvtn_UpdatePortRequest__Output } from './cordvtn/UpdatePortRequest.js';
import type { VtnServiceClient as _cordvtn_VtnServiceClient, VtnServiceDefinition as _cordvtn_VtnServiceDefinition } from './cordvtn/VtnService.js';
import type { WatchEvent as _cordvtn_WatchEvent, WatchEvent__Output as _cordvtn_WatchEvent__Output } from './cordvtn/WatchEvent.js';
import type { WatchRequest as _cordvtn_WatchRequest, WatchRequest__Output as _cordvtn_WatchRequest__Output } from './cordvtn/WatchRequest.js';
import type { ConnectPointProto as _net_ConnectPointProto, ConnectPointProto__Output as _net_ConnectPointProto__Output } from './net/ConnectPointProto.js';
import type { HostIdProto as _net_HostIdProto, HostIdProto__Output as _net_HostIdProto__Output } from './net/HostIdProto.js';
import type { HostLocationProto as _net_HostLocationProto, HostLocationProto__Output as _net_HostLocationProto__Output } from './net/HostLocationProto.js';
import type { HostProto as _net_HostProto, HostProto__Output as _net_HostProto__Output } from './net/HostProto.js';
import type { ProviderIdProto as _net_ProviderIdProto, ProviderIdProto__Output as _net_ProviderIdProto__Output } from './net/ProviderIdProto.js';
import type { HostDescription as _net_host_HostDescription, HostDescription__Output as _net_host_HostDescription__Output } from './net/host/HostDescription.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cordvtn: {
    AddressPair: MessageTypeDefinition<_cordvtn_AddressPair, _cordvtn_AddressPair__Output>
    CreateNetworkRequest: MessageTypeDefinition<_cordvtn_CreateNetworkRequest, _cordvtn_CreateNetworkRequest__Output>
    CreatePortRequest: MessageTypeDefinition<_cordvtn_CreatePortRequest, _cordvtn_CreatePortRequest__Output>
    DeleteNetworkRequest: MessageTypeDefinition<_cordvtn_DeleteNetworkRequest, _cordvtn_DeleteNetworkRequest__Output>
    DeletePortRequest: MessageTypeDefinition<_cordvtn_DeletePortRequest, _cordvtn_DeletePortRequest__Output>
    DeleteResponse: MessageTypeDefinition<_cordvtn_DeleteResponse, _cordvtn_DeleteResponse__Output>
    DependencyType: EnumTypeDefinition
    GetNetworkRequest: MessageTypeDefinition<_cordvtn_GetNetworkRequest, _cordvtn_GetNetworkRequest__Output>
    GetPortRequest: MessageTypeDefinition<_cordvtn_GetPortRequest, _cordvtn_GetPortRequest__Output>
    HostDetectedRequest: MessageTypeDefinition<_cordvtn_HostDetectedRequest, _cordvtn_HostDetectedRequest__Output>
    HostResponse: MessageTypeDefinition<_cordvtn_HostResponse, _cordvtn_HostResponse__Output>
    HostVanishedRequest: MessageTypeDefinition<_cordvtn_HostVanishedRequest, _cordvtn_HostVanishedRequest__Output>
    HostVanishedResponse: MessageTypeDefinition<_cordvtn_HostVanishedResponse, _cordvtn_HostVanishedResponse__Output>
    ListHostsRequest: MessageTypeDefinition<_cordvtn_ListHostsRequest, _cordvtn_ListHostsRequest__Output>
    ListHostsResponse: MessageTypeDefinition<_cordvtn_ListHostsResponse, _cordvtn_ListHostsResponse__Output>
    ListNetworksRequest: MessageTypeDefinition<_cordvtn_ListNetworksRequest, _cordvtn_ListNetworksRequest__Output>
    ListNetworksResponse: MessageTypeDefinition<_cordvtn_ListNetworksResponse, _cordvtn_ListNetworksResponse__Output>
    ListPortsRequest: MessageTypeDefinition<_cordvtn_ListPortsRequest, _cordvtn_ListPortsRequest__Output>
    ListPortsResponse: MessageTypeDefinition<_cordvtn_ListPortsResponse, _cordvtn_ListPortsResponse__Output>
    NetworkType: EnumTypeDefinition
    Provider: MessageTypeDefinition<_cordvtn_Provider, _cordvtn_Provider__Output>
    RemoveIpFromHostRequest: MessageTypeDefinition<_cordvtn_RemoveIpFromHostRequest, _cordvtn_RemoveIpFromHostRequest__Output>
    ServiceNetwork: MessageTypeDefinition<_cordvtn_ServiceNetwork, _cordvtn_ServiceNetwork__Output>
    ServicePort: MessageTypeDefinition<_cordvtn_ServicePort, _cordvtn_ServicePort__Output>
    UpdateNetworkRequest: MessageTypeDefinition<_cordvtn_UpdateNetworkRequest, _cordvtn_UpdateNetworkRequest__Output>
    UpdatePortRequest: MessageTypeDefinition<_cordvtn_UpdatePortRequest, _cordvtn_UpdatePortRequest__Output>
    VtnService: SubtypeConstructor<typeof grpc.Client, _cordvtn_VtnServiceClient> & { service: _cordvtn_VtnServiceDefinition }
    WatchEvent: MessageTypeDefinition<_cordvtn_WatchEvent, _cordvtn_WatchEvent__Output>
    WatchRequest: MessageTypeDefinition<_cordvtn_WatchRequest, _cordvtn_WatchRequest__Output>
  }
  net: {
    ConnectPointProto: MessageTypeDefinition<_net_ConnectPointProto, _net_ConnectPointProto__Output>
    HostIdProto: MessageTypeDefinition<_net_HostIdProto, _net_HostIdProto__Output>
    HostLocationProto: MessageTypeDefinition<_net_HostLocationProto, _net_HostLocationProto__Output>
    HostProto: MessageTypeDefinition<_net_HostProto, _net_HostProto__Output>
    ProviderIdProto: MessageTypeDefinition<_net_ProviderIdProto, _net_ProviderIdProto__Output>
    host: {
      HostDescription: MessageTypeDefinition<_net_host_HostDescription, _net_host_HostDescription__Output>
    }
  }
}

