// The services every Syncord gRPC server offers besides its own: health checking
// (grpc.health.v1) and server reflection (both versions), so that grpcurl and load balancers
// work as is.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProto } from 'grpc-health-check';
import { resolvableDescriptors } from './descriptors.js';

function healthDefinition(): protoLoader.PackageDefinition {
  const def = protoLoader.loadSync(healthProto, { keepCase: true, longs: String, enums: String });
  resolvableDescriptors(def);
  return def;
}

/** Adds health (SERVING for '' and each named service) and reflection of `definition`. */
export function addStandardServices(
  server: grpc.Server,
  definition: protoLoader.PackageDefinition,
  services: string[],
): HealthImplementation {
  const statuses: Record<string, 'SERVING'> = { '': 'SERVING' };
  for (const s of services) statuses[s] = 'SERVING';
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  new ReflectionService({ ...definition, ...healthDefinition() }).addToServer(server);
  return health;
}

/** Binds the server to `listen` ("127.0.0.1:0": any free port); the address and port it got. */
export async function listen(
  server: grpc.Server,
  listen: string,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<{ address: string; port: number }> {
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, credentials, (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  return { address: `${listen.slice(0, listen.lastIndexOf(':'))}:${String(port)}`, port };
}

/** Stops the server: calls in flight finish; streams (watches) are cut after half a second. */
export function shutdown(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.tryShutdown(() => {
      resolve();
    });
    setTimeout(() => {
      server.forceShutdown();
    }, 500).unref();
  });
}
