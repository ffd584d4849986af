// The VTN contract (protos/onos/vtn/VtnService.proto and ONOS's host models it imports), loaded
// once with the options the generated types in ./generated assume (npm run protos regenerates
// them; a test fails when they are stale).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../models/package-root.js';
import type { ProtoGrpcType } from './generated/VtnService.js';
import { resolvableDescriptors } from '../grpc/descriptors.js';

export { resolvableDescriptors };

export const PROTO_ROOT = join(PACKAGE_ROOT, 'protos', 'onos');
export const PROTO_FILE = 'vtn/VtnService.proto';
export const SERVICE_NAME = 'cordvtn.VtnService';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let loaded: { definition: protoLoader.PackageDefinition; grpcType: ProtoGrpcType } | undefined;

export function vtnProto(): { definition: protoLoader.PackageDefinition; grpcType: ProtoGrpcType } {
  if (!loaded) {
    const definition = protoLoader.loadSync(PROTO_FILE, LOADER_OPTIONS);
    resolvableDescriptors(definition);
    loaded = {
      definition,
      grpcType: grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType,
    };
  }
  return loaded;
}
