// Original file: protos/onos/vtn/VtnService.proto


export interface DeletePortRequest {
  'id'?: (string);
  'allow_missing'?: (boolean);
}

export interface DeletePortRequest__Output {
  'id': (string);
  'allow_missing': (boolean);
}
