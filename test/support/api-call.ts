// One call of the model API over gRPC, as a client would make it: a fresh connection, the bearer
// token (when given) in the metadata, closed once answered. For tests that make a few calls each.
import * as grpc from '@grpc/grpc-js';
import { apiDefinition } from '../../api/server.js';

export type Obj = Record<string, unknown>;

export function callApi(
  address: string,
  token: string | undefined,
  method: string,
  req: Obj,
): Promise<Obj> {
  const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
    syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.syncord.v1.ModelService(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise<Obj>((resolve, reject) => {
    const fn = client[method] as (
      r: Obj,
      m: grpc.Metadata,
      cb: (e: grpc.ServiceError | null, res?: Obj) => void,
    ) => void;
    fn.call(client, req, md, (e, res) => {
      client.close();
      if (e) reject(e);
      else resolve(res ?? {});
    });
  });
}
