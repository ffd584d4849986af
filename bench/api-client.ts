// The API benchmark's client, in a process of its own (as API clients are): N CreateSite calls,
// IN_FLIGHT at once; prints {"ms": <elapsed>} once done. Usage:
//   tsx bench/api-client.ts <address> <token> <n> <in-flight> <name-prefix>
import * as grpc from '@grpc/grpc-js';
import { apiDefinition } from '../api/server.js';

const [address, token, nText, inFlightText, prefix] = process.argv.slice(2);
const n = Number(nText);
const inFlight = Number(inFlightText);
const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
  syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
};
const client = new pkg.syncord.v1.ModelService(address!, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
md.set('authorization', `Bearer ${token!}`);
const create = (i: number) =>
  new Promise<void>((resolve, reject) => {
    (
      client.CreateSite as (
        r: object,
        m: grpc.Metadata,
        cb: (e: grpc.ServiceError | null) => void,
      ) => void
    ).call(client, { name: `${prefix!}-${String(i)}` }, md, (e) => {
      if (e) reject(e);
      else resolve();
    });
  });
await new Promise<void>((resolve, reject) => {
  client.waitForReady(new Date(Date.now() + 10_000), (e) => {
    if (e) reject(e);
    else resolve();
  });
});
let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < n) await create(next++);
  }),
);
process.stdout.write(`${JSON.stringify({ ms: performance.now() - start })}\n`);
client.close();
