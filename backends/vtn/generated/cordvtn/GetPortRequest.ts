// Original file: protos/onos/vtn/VtnService.proto


export interface GetPortRequest {
  'id'?: (string);
}

export interface GetPortRequest__Output {
  'id': (string);
}
