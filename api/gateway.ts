// The HTTP/JSON gateway: the same ModelService handlers as gRPC (one code path for
// authentication, rate limits, validation and authorization), reached over HTTP with JSON
// bodies whose field names are the protos', and Watch as server-sent events.
//
//   POST   /api/v1/login                      {"username","password"} → {"token",...}
//   GET    /api/v1/whoami
//   GET    /api/v1/models                     the registry, for generated tables and forms
//   GET    /api/v1/stats                      objects by status per model; the synchronizer's figures
//   GET    /api/v1/{Model}?field=value&field__gt=v&status=error&order_by=-name&page_size=100&page_token=...
//   GET    /api/v1/{Model}/{id}
//   GET    /api/v1/{Model}/{id}/history       its status history, newest first
//   GET    /api/v1/{Model}/{id}/backend       the backend objects the steps own for it
//   GET    /api/v1/{Model}/{id}/dependents    the objects that refer to it
//   POST   /api/v1/{Model}                    the object's fields
//   PATCH  /api/v1/{Model}/{id}               the fields to change; If-Match: <version>
//   DELETE /api/v1/{Model}/{id}               If-Match: <version>
//   GET    /api/v1/watch?models=Port,Network&from_cursor=...   text/event-stream
//   POST   /api/v1/tosca/apply|delete|validate   {"files": [{"name","content"}], "dry_run": false}
//   GET    /api/v1/openapi.json
//
// Every call but login takes "Authorization: Bearer <token>". Timestamps are RFC 3339 text and
// JSON fields plain JSON, as in the protos' JSON mapping. Errors are
// {"code": "INVALID_ARGUMENT", "message": ..., "field_violations": [{"field","description"}]}
// with the HTTP status of the gRPC code (and, for recipes, "problems").
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from '../models/registry.js';
import type { ModelService } from '../models/service.js';
import type { Authenticator, Principal } from './auth.js';
import { detailsOf, HttpError, readJson, send, sendError, sendStatus } from './http.js';
import { modelsMeta } from './meta.js';
import { backendObjects, dependents, history, type OwnedLister } from './objects.js';
import { listQuery, renameViolations } from './query.js';
import { fromValue, toValue, unpack } from './server.js';
import { stats, type SynchronizerFigures } from './stats.js';
import { BOOKKEEPING_FIELDS, apiFields, readFieldNumbers } from './protogen.js';

type Obj = Record<string, unknown>;

const VALUE_KEYS = [
  'nullValue',
  'numberValue',
  'stringValue',
  'boolValue',
  'structValue',
  'listValue',
];

/** A message as JSON: Timestamps as RFC 3339 text, google.protobuf.Value as plain JSON. */
export function toJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toJson);
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Uint8Array)
    return v;
  const o = v as Obj;
  const keys = Object.keys(o);
  if (keys.length === 1 && VALUE_KEYS.includes(keys[0]!)) return fromValue(o);
  if ('seconds' in o && keys.every((k) => k === 'seconds' || k === 'nanos')) {
    const ms = Number(o.seconds) * 1000 + Math.floor(Number(o.nanos ?? 0) / 1e6);
    return new Date(ms).toISOString();
  }
  return Object.fromEntries(keys.map((k) => [k, toJson(o[k])]));
}

/** Converts JSON fields of a model to the message's types (Timestamp, Value), by the proto. */
function messageTypes(registry: Registry): Map<string, Map<string, string>> {
  const lock = readFieldNumbers();
  const out = new Map<string, Map<string, string>>();
  for (const m of registry.models()) {
    const types = new Map<string, string>();
    for (const b of BOOKKEEPING_FIELDS) types.set(b.name, b.type);
    for (const f of apiFields(m, lock)) types.set(f.name, f.type);
    out.set(m.name, types);
  }
  return out;
}

function fromJsonObject(types: Map<string, string> | undefined, body: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(body)) {
    const t = types?.get(k);
    if (t === 'google.protobuf.Value') out[k] = toValue(v);
    else if (t === 'google.protobuf.Timestamp' && typeof v === 'string') {
      const ms = Date.parse(v);
      out[k] = Number.isFinite(ms)
        ? { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }
        : v;
    } else out[k] = v;
  }
  return out;
}

export interface Gateway {
  /** Handles the request when its path is under /api/v1; false when it is not. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

export interface GatewayOptions {
  registry: Registry;
  /** The ModelService's handlers (api/server.ts): every call goes through them. */
  handlers: grpc.UntypedServiceImplementation;
  models: ModelService;
  /** The API's authenticator (the caller of the gateway's own routes). */
  auth: Authenticator;
  /** Models some synchronizer step reconciles, and models some policy observes. */
  synced?: ReadonlySet<string>;
  policed?: ReadonlySet<string>;
  /** The backend objects the steps own for an object (steps/owned.ts); none without. */
  owned?: OwnedLister;
  /** The synchronizer's figures for /stats (the serving process's). */
  synchronizer?: SynchronizerFigures;
  /**
   * How often a quiet watch stream sends a comment line (SSE `: keepalive`); default
   * $SYNCORD_SSE_HEARTBEAT_MS, else 15 s.
   */
  heartbeatMs?: number;
}

export function apiGateway(options: GatewayOptions): Gateway {
  const { registry, handlers, models, auth } = options;
  const types = messageTypes(registry);
  const modelNames = new Map(registry.models().map((m) => [m.name.toLowerCase(), m.name]));
  const meta = modelsMeta(registry, options.synced ?? new Set(), options.policed ?? new Set());
  const heartbeatMs = options.heartbeatMs ?? Number(process.env.SYNCORD_SSE_HEARTBEAT_MS ?? 15_000);

  const metadataOf = (req: http.IncomingMessage) => {
    const metadata = new grpc.Metadata();
    if (req.headers.authorization) metadata.set('authorization', req.headers.authorization);
    return metadata;
  };

  const unary = (method: string, request: Obj, req: http.IncomingMessage): Promise<Obj> =>
    new Promise((resolve, reject) => {
      const handler = handlers[method] as grpc.handleUnaryCall<Obj, Obj> | undefined;
      if (!handler) {
        reject(new HttpError(404, 'NOT_FOUND', `no such call: ${method}`));
        return;
      }
      handler(
        { request, metadata: metadataOf(req) } as unknown as grpc.ServerUnaryCall<Obj, Obj>,
        (err, value) => {
          if (err) reject(Object.assign(new Error(err.details ?? 'failed'), err));
          else resolve(value ?? {});
        },
      );
    });

  /**
   * The caller of a gateway route: authenticated and rate-limited by a handler (WhoAmI, or the
   * Get of the object the route is about), as every call is.
   */
  const caller = async (req: http.IncomingMessage, through?: Promise<Obj>): Promise<Principal> => {
    await (through ?? unary('WhoAmI', {}, req));
    return auth.authenticate(metadataOf(req));
  };

  const version = (req: http.IncomingMessage): number | undefined => {
    const h = req.headers['if-match'];
    if (h === undefined) return undefined;
    const v = Number(h.replace(/^W\//, '').replace(/"/g, ''));
    if (!Number.isInteger(v) || v < 1) {
      throw new HttpError(400, 'INVALID_ARGUMENT', `If-Match: ${h} is not a version`);
    }
    return v;
  };

  const watch = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const call = new EventEmitter() as EventEmitter & Obj;
    call.request = {
      models: (url.searchParams.get('models') ?? '').split(',').filter(Boolean),
      from_cursor: url.searchParams.get('from_cursor') ?? '',
    };
    call.metadata = metadataOf(req);
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      });
      res.flushHeaders();
    };
    call.write = (event: Obj) => {
      start();
      const packed = event.object as { type_url: string; value: Uint8Array } | undefined;
      if (packed) event = { ...event, object: unpack(packed) };
      // The cursor as the event id: an EventSource resumes with Last-Event-ID (see below).
      return res.write(
        `id: ${String(event.cursor)}\nevent: change\ndata: ${JSON.stringify(toJson(event))}\n\n`,
      );
    };
    call.end = () => res.end();
    call.once = (name: string, fn: () => void) => {
      if (name === 'drain') res.once('drain', fn);
      else EventEmitter.prototype.once.call(call, name, fn);
      return call;
    };
    const lastId = req.headers['last-event-id'];
    if (typeof lastId === 'string' && lastId && !(call.request as Obj).from_cursor) {
      (call.request as Obj).from_cursor = lastId;
    }
    call.on('error', (err: Partial<grpc.StatusObject>) => {
      if (!started) {
        sendStatus(res, err);
        return;
      }
      res.write(
        `event: error\ndata: ${JSON.stringify({ code: grpc.status[err.code ?? 13], message: err.details })}\n\n`,
      );
      res.end();
    });
    // A comment line every heartbeatMs keeps proxies from timing the stream out and lets a
    // client tell a quiet stream from a dead connection.
    const heartbeat = setInterval(() => {
      if (started && !res.writableEnded) res.write(': keepalive\n\n');
    }, heartbeatMs);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
    });
    req.on('close', () => call.emit('cancelled'));
    // Headers go out at once so that a client knows the watch is listening.
    setImmediate(start);
    (handlers.Watch as (c: unknown) => void)(call);
  };

  /** GET /api/v1/{Model}: the List handler, with the query's problems named by parameter. */
  const list = async (req: http.IncomingMessage, url: URL, model: string): Promise<Obj> => {
    const fields = types.get(model);
    const { request, parameters } = listQuery(
      url,
      (name) => fields?.has(name) === true || registry.get(model).allFields[name] !== undefined,
    );
    try {
      return await unary(`List${model}`, request, req);
    } catch (err) {
      const violations =
        err && typeof err === 'object' && 'metadata' in err
          ? detailsOf(err as Partial<grpc.StatusObject>).violations
          : [];
      if (violations.length) throw renameViolations(violations, parameters);
      throw err;
    }
  };

  /** GET /api/v1/{Model}/{id}/history|backend|dependents, once the caller may read the object. */
  const aspect = async (
    req: http.IncomingMessage,
    model: string,
    id: number,
    what: string,
  ): Promise<unknown> => {
    // The model's Get decides (authentication, role, trust domain: NOT_FOUND when not visible).
    const who = await caller(req, unary(`Get${model}`, { id }, req));
    if (what === 'history') return history(models, model, id);
    const obj = await models.get(model, id);
    if (what === 'backend') return backendObjects(models, obj, options.owned);
    return dependents(models, registry, auth, who, obj);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const parts = url.pathname.split('/').filter(Boolean).slice(2); // after api/v1
    const method = req.method ?? 'GET';
    const [first, idText, sub, extra] = parts;
    if (!first || extra !== undefined)
      throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    if (first === 'openapi.json' && method === 'GET' && idText === undefined) {
      send(res, 200, openApi(registry));
      return;
    }
    if (first === 'login' && method === 'POST') {
      send(res, 200, toJson(await unary('Login', await readJson(req), req)));
      return;
    }
    if (first === 'logout' && method === 'POST') {
      send(res, 200, await unary('Logout', {}, req));
      return;
    }
    if (first === 'whoami' && method === 'GET') {
      send(res, 200, await unary('WhoAmI', {}, req));
      return;
    }
    if (first === 'models' && method === 'GET' && idText === undefined) {
      await caller(req);
      send(res, 200, meta);
      return;
    }
    if (first === 'stats' && method === 'GET' && idText === undefined) {
      const who = await caller(req);
      send(res, 200, await stats(models, registry, auth, who, options.synchronizer));
      return;
    }
    if (first === 'tosca' && sub === undefined && method === 'POST') {
      const call = { apply: 'ApplyTosca', delete: 'DeleteTosca', validate: 'ValidateTosca' }[
        idText ?? ''
      ];
      if (call) {
        send(res, 200, await unary(call, await readJson(req), req));
        return;
      }
    }
    // Adoption: GET lists candidates (?backends=ovn,kubernetes&kinds=Pod&namespace=&selector=),
    // POST adopts (an AdoptRequest as JSON).
    if (first === 'adoptable' && method === 'GET' && idText === undefined) {
      const p = url.searchParams;
      const several = (k: string) =>
        p
          .getAll(k)
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean);
      const request = {
        backends: several('backends'),
        kinds: several('kinds'),
        namespace: p.get('namespace') ?? '',
        selector: p.get('selector') ?? '',
        instance: p.get('instance') ?? '',
        service: p.get('service') ?? '',
      };
      send(res, 200, toJson(await unary('ListAdoptable', request, req)));
      return;
    }
    if (first === 'adopt' && method === 'POST' && idText === undefined) {
      send(res, 200, toJson(await unary('Adopt', await readJson(req), req)));
      return;
    }
    if (first === 'watch' && method === 'GET') {
      watch(req, res, url);
      return;
    }
    const model = modelNames.get(first.toLowerCase());
    if (!model) throw new HttpError(404, 'NOT_FOUND', `no model named ${first}`);
    const t = types.get(model);
    if (idText === undefined) {
      if (method === 'GET') {
        send(res, 200, toJson(await list(req, url, model)));
        return;
      }
      if (method === 'POST') {
        const body = await readJson(req);
        const unknown = Object.keys(body).filter((k) => !t?.has(k));
        if (unknown.length) {
          throw new HttpError(
            400,
            'INVALID_ARGUMENT',
            `${unknown.join(', ')}: not ${unknown.length > 1 ? 'fields' : 'a field'} of ${model}`,
          );
        }
        const made = await unary(`Create${model}`, fromJsonObject(t, body), req);
        send(res, 201, toJson(made));
        return;
      }
      throw new HttpError(405, 'UNIMPLEMENTED', `${method} ${url.pathname}: use GET or POST`);
    }
    const id = Number(idText);
    if (!/^\d+$/.test(idText) || !Number.isSafeInteger(id) || id < 1)
      throw new HttpError(400, 'INVALID_ARGUMENT', `id: ${idText} is not an id`, [
        { field: 'id', description: `${idText} is not an id (a positive integer)` },
      ]);
    if (sub !== undefined) {
      if (sub !== 'history' && sub !== 'backend' && sub !== 'dependents') {
        throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
      }
      if (method !== 'GET') {
        throw new HttpError(405, 'UNIMPLEMENTED', `${method} ${url.pathname}: use GET`);
      }
      send(res, 200, await aspect(req, model, id, sub));
      return;
    }
    if (method === 'GET') {
      send(res, 200, toJson(await unary(`Get${model}`, { id }, req)));
      return;
    }
    if (method === 'PATCH') {
      const body = fromJsonObject(t, await readJson(req));
      const expected = version(req);
      // The fields named in the body are written, null ones cleared.
      const paths = Object.keys(body).filter((k) => k !== 'id');
      const request: Obj = {
        object: { ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null)), id },
        update_mask: { paths },
        ...(expected !== undefined ? { expected_version: expected } : {}),
      };
      send(res, 200, toJson(await unary(`Update${model}`, request, req)));
      return;
    }
    if (method === 'DELETE') {
      const expected = version(req);
      send(
        res,
        200,
        await unary(
          `Delete${model}`,
          { id, ...(expected !== undefined ? { expected_version: expected } : {}) },
          req,
        ),
      );
      return;
    }
    throw new HttpError(
      405,
      'UNIMPLEMENTED',
      `${method} ${url.pathname}: use GET, PATCH or DELETE`,
    );
  };

  return {
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith('/api/v1/')) return false;
      route(req, res, url).catch((err: unknown) => {
        sendError(res, err);
      });
      return true;
    },
  };
}

/** The OpenAPI 3 document of the gateway, generated from the registry. */
export function openApi(registry: Registry): Obj {
  const lock = readFieldNumbers();
  const schemas: Obj = {};
  const paths: Obj = {};
  const jsonType = (t: string): Obj => {
    switch (t) {
      case 'int32':
        return { type: 'integer', format: 'int32' };
      case 'double':
        return { type: 'number' };
      case 'bool':
        return { type: 'boolean' };
      case 'google.protobuf.Timestamp':
        return { type: 'string', format: 'date-time' };
      case 'google.protobuf.Value':
        return {};
      default:
        return { type: 'string' };
    }
  };
  const error = { $ref: '#/components/schemas/Error' };
  const errors = Object.fromEntries(
    ['400', '401', '403', '404', '409', '412', '429'].map((c) => [
      c,
      { description: 'refused', content: { 'application/json': { schema: error } } },
    ]),
  );
  for (const m of registry.models()) {
    const properties: Obj = {};
    const required: string[] = [];
    for (const b of BOOKKEEPING_FIELDS) {
      properties[b.name] = { ...jsonType(b.type), ...(b.readOnly ? { readOnly: true } : {}) };
    }
    for (const f of apiFields(m, lock)) {
      properties[f.name] = {
        ...jsonType(f.type),
        ...(f.def.help ? { description: f.def.help } : {}),
        ...(f.def.choices ? { enum: [...f.def.choices] } : {}),
        ...(f.def.feedback ? { readOnly: true } : {}),
        ...(f.def.type === 'password' || f.def.secret === true ? { writeOnly: true } : {}),
      };
      if (f.def.required && f.def.default === undefined) required.push(f.name);
    }
    schemas[m.name] = {
      type: 'object',
      description: m.description,
      properties,
      ...(required.length ? { required } : {}),
    };
    const ref = { $ref: `#/components/schemas/${m.name}` };
    const body = { required: true, content: { 'application/json': { schema: ref } } };
    const one = { description: m.name, content: { 'application/json': { schema: ref } } };
    paths[`/api/v1/${m.name}`] = {
      get: {
        summary: `List ${m.name} objects (query parameters: field=value, field__ne|lt|le|gt|ge|in|contains|isnull=value filters, status=pending|ok|error|retrying|deleting, order_by, page_size, page_token)`,
        responses: {
          '200': {
            description: 'a page',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    items: { type: 'array', items: ref },
                    next_page_token: { type: 'string' },
                    total_size: { type: 'integer', description: 'objects matching (all pages)' },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
      post: {
        summary: `Create a ${m.name}`,
        requestBody: body,
        responses: { '201': one, ...errors },
      },
    };
    paths[`/api/v1/${m.name}/{id}`] = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { summary: `Get a ${m.name}`, responses: { '200': one, ...errors } },
      patch: {
        summary: `Change fields of a ${m.name} (If-Match: its version)`,
        requestBody: body,
        responses: { '200': one, ...errors },
      },
      delete: {
        summary: `Delete a ${m.name} (If-Match: its version)`,
        responses: { '200': { description: 'deleted' }, ...errors },
      },
    };
    for (const [aspect, summary] of [
      ['history', 'its status history, newest first: {"entries": [...]}'],
      ['backend', 'the backend objects the steps own for it: {"objects": [...]}'],
      ['dependents', 'the objects that refer to it: {"dependents": [...]}'],
    ] as const) {
      paths[`/api/v1/${m.name}/{id}/${aspect}`] = {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        get: {
          summary: `A ${m.name}'s ${summary}`,
          responses: { '200': { description: aspect }, ...errors },
        },
      };
    }
  }
  const plain = (summary: string) => ({
    get: { summary, responses: { '200': { description: 'ok' }, ...errors } },
  });
  paths['/api/v1/models'] = plain('The model registry, for generated tables and forms');
  paths['/api/v1/stats'] = plain("Objects by status per model, and the synchronizer's figures");
  paths['/api/v1/tosca/validate'] = {
    post: {
      summary: 'Check TOSCA recipes: {"problems": [{file, line, col, template, field, reason}]}',
      responses: { '200': { description: 'the problems (none: valid)' }, ...errors },
    },
  };
  schemas.Error = {
    type: 'object',
    properties: {
      code: { type: 'string' },
      message: { type: 'string' },
      field_violations: {
        type: 'array',
        items: {
          type: 'object',
          properties: { field: { type: 'string' }, description: { type: 'string' } },
        },
      },
    },
  };
  return {
    openapi: '3.0.3',
    info: { title: 'Syncord model API (HTTP/JSON gateway)', version: '1' },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
