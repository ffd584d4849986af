// Original file: protos/onos/vtn/VtnService.proto


export interface DeleteNetworkRequest {
  'id'?: (string);
  /**
   * Succeed when it is absent already.
   */
  'allow_missing'?: (boolean);
}

export interface DeleteNetworkRequest__Output {
  'id': (string);
  /**
   * Succeed when it is absent already.
   */
  'allow_missing': (boolean);
}
