// `syncord serve`: the database (DATABASE_URL, or the embedded server), the committed migrations,
// the synchronizer (leader election, then the engine with the registered steps), the gRPC model
// API, and one HTTP endpoint with /healthz, /readyz, /metrics, the API's HTTP/JSON gateway
// (/api/v1/) and the operator GUI (every other path: web/dist/). It also prunes the status
// history periodically.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { migrate, openDataSource } from '../models/datasource.js';
import { resolveDatabaseUrl } from '../models/embedded.js';
import { pruneHistory } from '../models/history.js';
import type { Registry } from '../models/registry.js';
import { ModelService } from '../models/service.js';
import { apiGateway, type Gateway } from '../api/gateway.js';
import { observedModels } from '../api/meta.js';
import type { OwnedLister } from '../api/objects.js';
import { startApiServer } from '../api/server.js';
import { staticSite } from '../api/static.js';
import { httpsOptions, type ServingTls } from '../api/tls.js';
import { ensureFirstAdmin } from '../api/users.js';
import type { AdoptSource } from './adopt.js';
import { Engine, type ModelPolicy, type SyncStep } from './engine.js';
import { Leader } from './leader.js';
import { syncMetrics } from './metrics.js';

export interface ServeOptions {
  registry: Registry;
  steps: SyncStep[];
  policies?: ModelPolicy[];
  /** Default: DATABASE_URL, else the embedded server. */
  databaseUrl?: string;
  /** Where /healthz, /readyz and /metrics listen (default 127.0.0.1:8080; port 0 picks one). */
  host?: string;
  port?: number;
  workers?: number;
  resyncMs?: number;
  /** Run the synchronizer (default true); false serves only the endpoints and the API. */
  sync?: boolean;
  /** Where the gRPC model API listens (default 127.0.0.1:50051; port 0 picks one); false: not served. */
  api?: { host: string; port: number } | false;
  /** The backend objects the steps own for an object, for the GUI (steps/owned.ts). */
  owned?: OwnedLister;
  /** Where the API's ListAdoptable and Adopt find backend objects (synchronizer/adopt.ts). */
  sources?: readonly AdoptSource[];
  /** The GUI's build (default web/dist/). */
  webDir?: string;
  /**
   * Serve TLS only, on both the HTTP endpoint and the gRPC API, with this certificate and key;
   * with a client CA, clients of both must present a certificate it signed (mutual TLS).
   */
  tls?: ServingTls;
  /**
   * On stop, how long the reconciles in flight may run to their end before they are aborted
   * (default 0: at once). The leader lock is released after them.
   */
  shutdownGraceMs?: number;
  /** Period of the status history's prune (default 10 minutes). */
  historyPruneMs?: number;
  log?: (line: string) => void;
}

export interface Server {
  /** The HTTP endpoint, e.g. http://127.0.0.1:8080 (https:// with TLS) */
  url: string;
  /** The gRPC model API, host:port, when served. */
  apiAddress: string | undefined;
  databaseUrl: string;
  models: ModelService;
  /** The engine while this replica leads, else undefined. */
  engine(): Engine | undefined;
  leader: Leader | undefined;
  stop(): Promise<void>;
}

/** The pause before campaigning again after the engine failed to start. */
const START_RETRY_MS = 2000;

export async function serve(options: ServeOptions): Promise<Server> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[syncord] ${line}\n`));
  const db = options.databaseUrl
    ? { url: options.databaseUrl, embedded: false, stop: () => Promise.resolve() }
    : await resolveDatabaseUrl({
        // The embedded server's own log lines only when asked for (SYNCORD_DEBUG).
        log: (l) => {
          if (process.env.SYNCORD_DEBUG) log(`postgres: ${l}`);
        },
      });
  if (db.embedded) log(`no DATABASE_URL: using the embedded PostgreSQL`);
  const ds = await openDataSource(db.url, options.registry, { poolSize: 1 });
  try {
    const applied = await migrate(ds);
    if (applied.length) log(`applied migrations ${applied.join(', ')}`);
  } finally {
    await ds.destroy();
  }
  const models = new ModelService(db.url, options.registry, { poolSize: 20 });
  const firstAdmin = await ensureFirstAdmin(models);
  if (firstAdmin) log(firstAdmin);
  const metrics = syncMetrics(models, options.registry, { sync: options.sync !== false });
  const startedAt = Date.now();
  let engine: Engine | undefined;
  const state = { stopping: false };
  const stopping = () => state.stopping;
  let leader: Leader | undefined;

  const campaign = async (): Promise<void> => {
    while (!stopping()) {
      leader = new Leader(db.url, { log });
      const current = leader;
      try {
        await current.acquire();
      } catch {
        return; // stopped while waiting
      }
      const lost = new Promise<string>((resolve) => {
        current.onLost(resolve);
      });
      metrics.setLeader(true);
      const e = new Engine(options.registry, models, options.steps, {
        url: db.url,
        policies: options.policies,
        workers: options.workers,
        resyncMs: options.resyncMs,
        log,
        onReconcile: (step, outcome, seconds) => {
          metrics.observeReconcile(step, outcome, seconds);
        },
      });
      try {
        await e.start();
      } catch (err) {
        // A step that cannot start (its backend refusing, say): give the lock up, so that a
        // standby may try, and campaign again after a pause; never lead without synchronizing.
        log(
          `synchronizer could not start: ${err instanceof Error ? err.message : String(err)}; ` +
            'giving up leadership and trying again',
        );
        metrics.setLeader(false);
        await e.stop().catch(() => undefined);
        await current.release();
        if (!stopping()) await new Promise((r) => setTimeout(r, START_RETRY_MS));
        continue;
      }
      engine = e;
      metrics.setEngine(e);
      log(`synchronizing with ${String(options.steps.length)} steps`);
      const why = await lost;
      metrics.setLeader(false);
      engine = undefined;
      metrics.setEngine(undefined);
      await e.stop();
      if (!stopping()) log(`stopped synchronizing (${why}); waiting to lead again`);
    }
  };
  const campaigning = options.sync === false ? Promise.resolve() : campaign();
  campaigning.catch((err: unknown) => {
    log(`synchronizer failed: ${err instanceof Error ? err.message : String(err)}`);
  });

  // The status history's retention: each prune looks at the objects written since the last.
  let prunedUpTo = '0';
  const prune = () => {
    pruneHistory(models.pool, { since: prunedUpTo })
      .then((r) => {
        prunedUpTo = r.upTo;
        if (r.expired + r.capped > 0) {
          log(
            `status history: pruned ${String(r.expired)} old and ${String(r.capped)} surplus entries`,
          );
        }
      })
      .catch((err: unknown) => {
        if (!stopping()) log(`status history prune failed: ${String(err)}`);
      });
  };
  const pruning = setInterval(prune, options.historyPruneMs ?? 10 * 60_000).unref();
  setImmediate(prune);

  let gateway: Gateway | undefined;
  const page = staticSite(options.webDir);
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (gateway?.handle(req, res)) return;
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (path === '/healthz') {
      reply(200, 'ok\n');
    } else if (path === '/readyz') {
      models.pool
        .query('SELECT 1')
        .then(() => {
          reply(200, `ok: ${engine ? 'leading' : 'standing by'}\n`);
        })
        .catch((err: unknown) => {
          reply(503, `database unreachable: ${err instanceof Error ? err.message : String(err)}\n`);
        });
    } else if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => {
          reply(200, text, metrics.registry.contentType);
        })
        .catch((err: unknown) => {
          reply(500, String(err));
        });
    } else if (path === '/api' || path.startsWith('/api/')) {
      reply(
        404,
        JSON.stringify({
          code: 'NOT_FOUND',
          message: gateway
            ? `no route ${path}: the API is under /api/v1/`
            : 'the API is not served by this process (--role sync, or --api-listen off)',
        }),
        'application/json; charset=utf-8',
      );
    } else {
      page(req, res);
    }
  };
  const server = options.tls
    ? https.createServer(httpsOptions(options.tls), handler)
    : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${address.address}:${String(address.port)}`;
  const tlsNote = options.tls
    ? options.tls.clientCa
      ? ' (TLS, client certificates required)'
      : ' (TLS)'
    : '';
  log(`serving /healthz, /readyz, /metrics and the GUI on ${url}${tlsNote}`);
  const apiListen = options.api ?? { host: '127.0.0.1', port: 50051 };
  const api = apiListen
    ? await startApiServer({
        listen: `${apiListen.host}:${String(apiListen.port)}`,
        registry: options.registry,
        models,
        url: db.url,
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.sources ? { sources: options.sources } : {}),
      })
    : undefined;
  if (api) {
    gateway = apiGateway({
      registry: options.registry,
      handlers: api.handlers,
      models,
      auth: api.auth,
      synced: observedModels(
        options.registry,
        options.steps.map((s) => s.observes),
      ),
      policed: observedModels(
        options.registry,
        (options.policies ?? []).map((p) => p.observes),
      ),
      ...(options.owned ? { owned: options.owned } : {}),
      synchronizer: async () => ({
        ...(await metrics.figures()),
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      }),
    });
    log(
      `serving the gRPC model API (syncord.v1.ModelService) on ${api.address}${tlsNote}, and over HTTP/JSON on ${url}/api/v1/`,
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    apiAddress: api?.address,
    databaseUrl: db.url,
    models,
    engine: () => engine,
    get leader() {
      return leader;
    },
    stop() {
      stopped ??= shutdown();
      return stopped;
    },
  };

  async function shutdown(): Promise<void> {
    state.stopping = true;
    clearInterval(pruning);
    await api?.close();
    for (const source of options.sources ?? []) {
      await source.close?.().catch((err: unknown) => {
        log(`closing the ${source.backend} adopt source: ${String(err)}`);
      });
    }
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
    // The reconciles in flight finish (within the grace) while this replica still holds the
    // lock; only then is it given up, so that the next leader never works beside this one.
    const e = engine;
    engine = undefined;
    metrics.setEngine(undefined);
    await e?.stop({ graceMs: options.shutdownGraceMs ?? 0 });
    await leader?.release();
    await campaigning.catch(() => undefined);
    await models.close();
    await db.stop();
  }
}
