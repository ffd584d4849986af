// Original file: protos/onos/vtn/VtnService.proto

import type { DependencyType as _cordvtn_DependencyType, DependencyType__Output as _cordvtn_DependencyType__Output } from '../cordvtn/DependencyType.js';

/**
 * A provider network of a service network: VTN's Map<NetworkId, DependencyType> entry (its JSON
 * codec writes it {"id", "bidirectional": type == BIDIRECTIONAL}).
 */
export interface Provider {
  'id'?: (string);
  'type'?: (_cordvtn_DependencyType);
}

/**
 * A provider network of a service network: VTN's Map<NetworkId, DependencyType> entry (its JSON
 * codec writes it {"id", "bidirectional": type == BIDIRECTIONAL}).
 */
export interface Provider__Output {
  'id': (string);
  'type': (_cordvtn_DependencyType__Output);
}
