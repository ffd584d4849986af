// The model API over gRPC, as a client reaches it. `callApi`: one call on a fresh connection,
// closed once answered (for tests that make a few calls each). `clientFor`: a connection kept for
// many calls and watches, with the bearer token (when given) in every call's metadata.
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

export interface WatchEvent {
  cursor: string;
  model: string;
  id: number;
  op: string;
  version: number;
  object?: { type_url: string; value: Buffer };
}

export type Call = (req: Obj) => Promise<Obj>;

export interface ApiClient {
  call(method: string): Call;
  watch(req: Obj): grpc.ClientReadableStream<WatchEvent>;
  close(): void;
}

export function clientFor(address: string, token?: string): ApiClient {
  const metadata = () => {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
    syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.syncord.v1.ModelService(address, grpc.credentials.createInsecure());
  return {
    call: (method) => (req) =>
      new Promise((resolve, reject) => {
        const fn = client[method] as (
          r: Obj,
          md: grpc.Metadata,
          cb: (e: grpc.ServiceError | null, res?: Obj) => void,
        ) => void;
        fn.call(client, req, metadata(), (e, res) => {
          if (e) reject(e);
          else resolve(res ?? {});
        });
      }),
    watch: (req) =>
      (client.Watch as (r: Obj, md: grpc.Metadata) => grpc.ClientReadableStream<WatchEvent>).call(
        client,
        req,
        metadata(),
      ),
    close: () => {
      client.close();
    },
  };
}

/** Collects a watch's events until `done` says so. */
export async function collect(
  stream: grpc.ClientReadableStream<WatchEvent>,
  done: (events: WatchEvent[]) => boolean,
): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`watch: ${String(events.length)} events, not done`));
    }, 15_000);
    stream.on('data', (e: WatchEvent) => {
      events.push(e);
      if (done(events)) {
        clearTimeout(timer);
        resolve(events);
      }
    });
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      if ((e as grpc.ServiceError).code === grpc.status.CANCELLED) resolve(events);
      else reject(e);
    });
  });
}

/** The status code name a call ends with: 'OK', or the gRPC code's name ('NOT_FOUND', ...). */
export const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'OK',
    (e: unknown) => grpc.status[(e as grpc.ServiceError).code],
  );
