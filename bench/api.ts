// The model API benchmark (issue 8): the gRPC API against the model layer called in-process, in
// the same run and the same scratch database.
//
// - creates: N Sites through CreateSite (a grpc-js client, 16 calls in flight, an admin's token)
//   against N models.create('Site') in-process, 16 at once; creates a second, floor first.
// - list: 10,000 Sites read through ListSite (pages of 5,000) against models.list (the same
//   pages); time, median of 3.
// - watch: 50 clients watching Sites; 200 Sites created one at a time through the API; each
//   event's delivery time from the create's return to its arrival at each client; p50 and p99.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { apiDefinition, startApiServer } from '../api/server.js';
import { createUser } from '../api/users.js';
import { defaultRegistry } from '../models/index.js';
import { ModelService } from '../models/service.js';
import { watchChanges } from '../models/watch.js';
import {
  forEachBounded,
  median,
  now,
  percentile,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

const execFileP = promisify(execFile);
const IN_FLIGHT = 16;
const LIST_N = 10_000;
const WATCHERS = 50;
const WATCH_EVENTS = 200;

type Obj = Record<string, unknown>;

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  const registry = defaultRegistry();
  return withMigratedScratch(ctx.serverUrl, registry, async (url) => {
    const models = new ModelService(url, registry, { poolSize: 20 });
    const api = await startApiServer({
      listen: '127.0.0.1:0',
      registry,
      models,
      url,
      rateLimit: null,
    });
    const pkg = grpc.loadPackageDefinition(apiDefinition()) as unknown as {
      syncord: { v1: { ModelService: grpc.ServiceClientConstructor } };
    };
    const client = new pkg.syncord.v1.ModelService(api.address, grpc.credentials.createInsecure());
    const unary = (method: string, req: Obj, token?: string) =>
      new Promise<Obj>((resolve, reject) => {
        const md = new grpc.Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        (
          client[method] as (
            r: Obj,
            m: grpc.Metadata,
            cb: (e: grpc.ServiceError | null, r?: Obj) => void,
          ) => void
        ).call(client, req, md, (e, r) => {
          if (e) reject(e);
          else resolve(r ?? {});
        });
      });
    try {
      await createUser(models, { name: 'bench', password: 'bench-password', role: 'admin' });
      const login = await unary('Login', { username: 'bench', password: 'bench-password' });
      const token = login.token as string;

      // Creates.
      log(`creates: ${String(n)} Sites in-process, then through the API`);
      let t = now();
      await forEachBounded(
        Array.from({ length: n }, (_, i) => i),
        IN_FLIGHT,
        async (i) => {
          await models.create('Site', { name: `floor-${String(i)}` });
        },
      );
      const floorCreate = (n / (now() - t)) * 1000;
      t = now();
      await forEachBounded(
        Array.from({ length: n }, (_, i) => i),
        IN_FLIGHT,
        async (i) => {
          await unary('CreateSite', { name: `api-${String(i)}` }, token);
        },
      );
      const apiCreate = (n / (now() - t)) * 1000;
      // The same from a client in a process of its own, as API clients are.
      const child = await execFileP(process.execPath, [
        '--import',
        'tsx',
        'bench/api-client.ts',
        api.address,
        token,
        String(n),
        String(IN_FLIGHT),
        'remote',
      ]);
      const remoteCreate = (n / (JSON.parse(child.stdout) as { ms: number }).ms) * 1000;

      // Lists of 10,000.
      const have = n * 3;
      if (have < LIST_N) {
        const rows = Array.from({ length: LIST_N - have }, (_, i) => ({
          name: `fill-${String(i)}`,
        }));
        for (let i = 0; i < rows.length; i += 1000)
          await models.createMany('Site', rows.slice(i, i + 1000));
      }
      const listAll = async (
        page: (token: string) => Promise<{ items: unknown[]; next: string }>,
      ) => {
        let count = 0;
        let next = '';
        const start = now();
        do {
          const p = await page(next);
          count += p.items.length;
          next = p.next;
        } while (next);
        return { ms: now() - start, count };
      };
      const viaModels = (pt: string) =>
        models
          .list('Site', { pageSize: 5000, ...(pt ? { pageToken: pt } : {}) })
          .then((p) => ({ items: p.items, next: p.nextPageToken ?? '' }));
      const viaApi = (pt: string) =>
        unary('ListSite', { page_size: 5000, page_token: pt }, token).then((p) => ({
          items: p.items as unknown[],
          next: p.next_page_token as string,
        }));
      const floorLists: number[] = [];
      const apiLists: number[] = [];
      let listed = 0;
      // Two untimed rounds first: the first lists of a process compile the codecs' paths.
      for (let i = 0; i < 2; i++) await Promise.all([listAll(viaModels), listAll(viaApi)]);
      for (let i = 0; i < 3; i++) {
        floorLists.push((await listAll(viaModels)).ms);
        const r = await listAll(viaApi);
        apiLists.push(r.ms);
        listed = r.count;
      }
      log(
        `list: ${String(listed)} Sites, API ${median(apiLists).toFixed(0)} ms, in-process ${median(floorLists).toFixed(0)} ms`,
      );

      // Watch fan-out.
      log(`watch: ${String(WATCHERS)} clients, ${String(WATCH_EVENTS)} creates`);
      // Arrivals are kept by id and matched afterwards: an event can arrive before its create's
      // answer does. Delivery is counted from the moment the create was sent.
      const sentAt = new Map<number, number>();
      const arrivals: { id: number; at: number }[] = [];
      let received = 0;
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      const streams = Array.from({ length: WATCHERS }, () => {
        const s = (
          client.Watch as (r: Obj, m: grpc.Metadata) => grpc.ClientReadableStream<Obj>
        ).call(client, { models: ['Site'] }, md);
        s.on('data', (e: Obj) => {
          if (e.op !== 'create') return;
          arrivals.push({ id: e.id as number, at: now() });
          received++;
        });
        s.on('error', () => undefined);
        return s;
      });
      // The floor: the model layer's own change feed, in this process, for the same creates.
      const feedAbort = new AbortController();
      const feedArrivals: { id: number; at: number }[] = [];
      const feed = (async () => {
        for await (const c of watchChanges(url, { models: ['Site'], signal: feedAbort.signal })) {
          if (c.op === 'create') feedArrivals.push({ id: c.id, at: now() });
        }
      })().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000)); // every watch listening
      for (let i = 0; i < WATCH_EVENTS; i++) {
        const start = now();
        const made = await unary('CreateSite', { name: `watched-${String(i)}` }, token);
        sentAt.set(made.id as number, start);
      }
      // Until every watcher and the floor's own feed have had every create (the feed, in this
      // busy process, may be the last: stopping it at the watchers' count lost its tail).
      const deadline = now() + 30_000;
      const feedSaw = () => feedArrivals.filter((a) => sentAt.has(a.id)).length;
      while ((received < WATCHERS * WATCH_EVENTS || feedSaw() < WATCH_EVENTS) && now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const s of streams) s.cancel();
      feedAbort.abort();
      await feed;
      const delays = arrivals.filter((a) => sentAt.has(a.id)).map((a) => a.at - sentAt.get(a.id)!);
      const feedDelays = feedArrivals
        .filter((a) => sentAt.has(a.id))
        .map((a) => a.at - sentAt.get(a.id)!);
      if (feedDelays.length < WATCH_EVENTS) {
        throw new Error(
          `watch: the change feed saw ${String(feedDelays.length)} of ${String(WATCH_EVENTS)} creates`,
        );
      }
      if (delays.length < WATCHERS * WATCH_EVENTS) {
        throw new Error(
          `watch: ${String(delays.length)} of ${String(WATCHERS * WATCH_EVENTS)} events arrived`,
        );
      }
      return [
        {
          figure: `creates a second, client in the server's process (floor: model layer in-process, ${String(IN_FLIGHT)} at once)`,
          value: apiCreate,
          unit: '/s',
          floor: floorCreate,
        },
        {
          figure: `creates a second, client in its own process (floor: model layer in-process)`,
          value: remoteCreate,
          unit: '/s',
          floor: floorCreate,
          target: { op: '>=', ratio: 0.5 },
        },
        {
          figure: `list ${String(listed)} Sites, pages of 5,000 (floor: model layer)`,
          value: median(apiLists),
          unit: 'ms',
          floor: median(floorLists),
          // The API encodes each page to protobuf, sends it over HTTP/2, and the client decodes
          // it: work the in-process floor does not do at all.
          target: { op: '<', ratio: 4 },
        },
        {
          figure: `watch delivery p50, ${String(WATCHERS)} clients (floor: the model layer's change feed, one reader)`,
          value: percentile(delays, 50),
          unit: 'ms',
          floor: percentile(feedDelays, 50),
          target: { op: '<', ratio: 3 },
        },
        {
          figure: `watch delivery p99, ${String(WATCHERS)} clients (floor: the same)`,
          value: percentile(delays, 99),
          unit: 'ms',
          floor: percentile(feedDelays, 99),
        },
      ];
    } finally {
      client.close();
      await api.close();
      await models.close();
    }
  });
}

export const apiBenchmark: Benchmark = {
  name: 'api',
  summary: 'the gRPC model API vs the model layer in-process: creates, lists, watch fan-out',
  defaultScale: 2000,
  run,
};
