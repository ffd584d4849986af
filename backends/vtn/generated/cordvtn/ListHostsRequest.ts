// Original file: protos/onos/vtn/VtnService.proto


export interface ListHostsRequest {
  /**
   * Only hosts with all these annotations.
   */
  'annotations'?: ({[key: string]: string});
}

export interface ListHostsRequest__Output {
  /**
   * Only hosts with all these annotations.
   */
  'annotations': ({[key: string]: string});
}
