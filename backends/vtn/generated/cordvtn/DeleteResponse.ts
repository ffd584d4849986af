// Original file: protos/onos/vtn/VtnService.proto


export interface DeleteResponse {
  /**
   * Whether this call removed something (false: it was absent, with allow_missing).
   */
  'deleted'?: (boolean);
}

export interface DeleteResponse__Output {
  /**
   * Whether this call removed something (false: it was absent, with allow_missing).
   */
  'deleted': (boolean);
}
