// Original file: protos/onos/vtn/VtnService.proto


export interface WatchRequest {
  /**
   * Send every object as it is first (as ADDED events), then a SYNCED event, then the changes.
   */
  'initial'?: (boolean);
}

export interface WatchRequest__Output {
  /**
   * Send every object as it is first (as ADDED events), then a SYNCED event, then the changes.
   */
  'initial': (boolean);
}
