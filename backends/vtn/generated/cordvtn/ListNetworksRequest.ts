// Original file: protos/onos/vtn/VtnService.proto


export interface ListNetworksRequest {
  /**
   * Only networks with all these annotations (e.g. one deployment's owner mark).
   */
  'annotations'?: ({[key: string]: string});
}

export interface ListNetworksRequest__Output {
  /**
   * Only networks with all these annotations (e.g. one deployment's owner mark).
   */
  'annotations': ({[key: string]: string});
}
