// Original file: protos/onos/vtn/VtnService.proto

/**
 * VTN's DependencyType: whether the provider may also reach the subscriber.
 */
export const DependencyType = {
  UNIDIRECTIONAL: 'UNIDIRECTIONAL',
  BIDIRECTIONAL: 'BIDIRECTIONAL',
} as const;

/**
 * VTN's DependencyType: whether the provider may also reach the subscriber.
 */
export type DependencyType =
  | 'UNIDIRECTIONAL'
  | 0
  | 'BIDIRECTIONAL'
  | 1

/**
 * VTN's DependencyType: whether the provider may also reach the subscriber.
 */
export type DependencyType__Output = typeof DependencyType[keyof typeof DependencyType]
