// Original file: protos/onos/vtn/VtnService.proto


export interface HostVanishedResponse {
  'removed'?: (boolean);
}

export interface HostVanishedResponse__Output {
  'removed': (boolean);
}
