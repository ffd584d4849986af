// Original file: protos/onos/vtn/VtnService.proto


export interface GetNetworkRequest {
  'id'?: (string);
}

export interface GetNetworkRequest__Output {
  'id': (string);
}
