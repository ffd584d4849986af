// Original file: protos/onos/vtn/VtnService.proto

/**
 * VTN's NetworkType, in VTN's order after an explicit "unspecified" (a required field).
 */
export const NetworkType = {
  NETWORK_TYPE_UNSPECIFIED: 'NETWORK_TYPE_UNSPECIFIED',
  PRIVATE: 'PRIVATE',
  PUBLIC: 'PUBLIC',
  FLAT: 'FLAT',
  MANAGEMENT_HOST: 'MANAGEMENT_HOST',
  MANAGEMENT_LOCAL: 'MANAGEMENT_LOCAL',
  /**
   * Deprecated in VTN: a VSG's VLAN is on its ServicePort now.
   * @deprecated
   */
  VSG: 'VSG',
  ACCESS_AGENT: 'ACCESS_AGENT',
} as const;

/**
 * VTN's NetworkType, in VTN's order after an explicit "unspecified" (a required field).
 */
export type NetworkType =
  | 'NETWORK_TYPE_UNSPECIFIED'
  | 0
  | 'PRIVATE'
  | 1
  | 'PUBLIC'
  | 2
  | 'FLAT'
  | 3
  | 'MANAGEMENT_HOST'
  | 4
  | 'MANAGEMENT_LOCAL'
  | 5
  /**
   * Deprecated in VTN: a VSG's VLAN is on its ServicePort now.
   */
  | 'VSG'
  | 6
  | 'ACCESS_AGENT'
  | 7

/**
 * VTN's NetworkType, in VTN's order after an explicit "unspecified" (a required field).
 */
export type NetworkType__Output = typeof NetworkType[keyof typeof NetworkType]
