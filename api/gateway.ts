// The HTTP/JSON gateway: the same ModelService handlers as gRPC (one code path for
// authentication, rate limits, validation and authorization), reached over HTTP with JSON
// bodies whose field names are the protos', and Watch as server-sent events.
//
//   POST   /api/v1/login                      {"username","password"} → {"token",...}
//   GET    /api/v1/whoami
//   GET    /api/v1/{Model}?field=value&order_by=-name&page_size=100&page_token=...
//   GET    /api/v1/{Model}/{id}
//   POST   /api/v1/{Model}                    the object's fields
//   PATCH  /api/v1/{Model}/{id}               the fields to change; If-Match: <version>
//   DELETE /api/v1/{Model}/{id}               If-Match: <version>
//   GET    /api/v1/watch?models=Port,Network&from_cursor=...   text/event-stream
//   POST   /api/v1/tosca/apply|delete        {"files": [{"name","content"}], "dry_run": false}
//   GET    /api/v1/openapi.json
//
// Every call but login takes "Authorization: Bearer <token>". Timestamps are RFC 3339 text and
// JSON fields plain JSON, as in the protos' JSON mapping. Errors are
// {"code": "INVALID_ARGUMENT", "message": ..., "field_violations": [{"field","description"}]}
// with the HTTP status of the gRPC code.
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from '../models/registry.js';
import { fromValue, statusDetailsOf, toValue, unpack } from './server.js';
import { BOOKKEEPING_FIELDS, apiFields, readFieldNumbers } from './protogen.js';

type Obj = Record<string, unknown>;

const HTTP_STATUS: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.FAILED_PRECONDITION]: 412,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNIMPLEMENTED]: 501,
};

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

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(`${JSON.stringify(body)}\n`);
}

function sendStatus(res: http.ServerResponse, err: Partial<grpc.StatusObject>): void {
  const code = err.code ?? grpc.status.INTERNAL;
  const violations = err.metadata ? statusDetailsOf(err.metadata) : [];
  send(res, HTTP_STATUS[code] ?? 500, {
    code: grpc.status[code],
    message: err.details ?? '',
    ...(violations.length ? { field_violations: violations } : {}),
  });
}

const MAX_BODY = 4 * 1024 * 1024;

async function readJson(req: http.IncomingMessage): Promise<Obj> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'RESOURCE_EXHAUSTED', 'the body is over 4 MiB');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Obj;
  } catch (err) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `the body is not a JSON object: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Parses a query value: numbers, booleans and null as JSON, the rest as text. */
function queryValue(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === 'true' || v === 'false') return v === 'true';
  if (v === 'null') return null;
  return v;
}

export interface Gateway {
  /** Handles the request when its path is under /api/v1; false when it is not. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

export function apiGateway(
  registry: Registry,
  handlers: grpc.UntypedServiceImplementation,
): Gateway {
  const types = messageTypes(registry);
  const models = new Map(registry.models().map((m) => [m.name.toLowerCase(), m.name]));

  const unary = (method: string, request: Obj, req: http.IncomingMessage): Promise<Obj> =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      const auth = req.headers.authorization;
      if (auth) metadata.set('authorization', auth);
      const handler = handlers[method] as grpc.handleUnaryCall<Obj, Obj> | undefined;
      if (!handler) {
        reject(new HttpError(404, 'NOT_FOUND', `no such call: ${method}`));
        return;
      }
      handler({ request, metadata } as unknown as grpc.ServerUnaryCall<Obj, Obj>, (err, value) => {
        if (err) reject(Object.assign(new Error(err.details ?? 'failed'), err));
        else resolve(value ?? {});
      });
    });

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
    const metadata = new grpc.Metadata();
    if (req.headers.authorization) metadata.set('authorization', req.headers.authorization);
    const call = new EventEmitter() as EventEmitter & Obj;
    call.request = {
      models: (url.searchParams.get('models') ?? '').split(',').filter(Boolean),
      from_cursor: url.searchParams.get('from_cursor') ?? '',
    };
    call.metadata = metadata;
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
    req.on('close', () => call.emit('cancelled'));
    // Headers go out at once so that a client knows the watch is listening.
    setImmediate(start);
    (handlers.Watch as (c: unknown) => void)(call);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const parts = url.pathname.split('/').filter(Boolean).slice(2); // after api/v1
    const method = req.method ?? 'GET';
    const [first, idText, extra] = parts;
    if (!first || extra !== undefined)
      throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    if (first === 'openapi.json' && method === 'GET') {
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
    if (first === 'tosca' && (idText === 'apply' || idText === 'delete') && method === 'POST') {
      const call = idText === 'apply' ? 'ApplyTosca' : 'DeleteTosca';
      send(res, 200, await unary(call, await readJson(req), req));
      return;
    }
    if (first === 'watch' && method === 'GET') {
      watch(req, res, url);
      return;
    }
    const model = models.get(first.toLowerCase());
    if (!model) throw new HttpError(404, 'NOT_FOUND', `no model named ${first}`);
    const t = types.get(model);
    if (idText === undefined) {
      if (method === 'GET') {
        const filter: Obj[] = [];
        const orderBy: Obj[] = [];
        const request: Obj = { filter, order_by: orderBy };
        for (const [k, v] of url.searchParams) {
          if (k === 'page_size') request.page_size = Number(v);
          else if (k === 'page_token') request.page_token = v;
          else if (k === 'order_by') {
            for (const f of v.split(',').filter(Boolean)) {
              orderBy.push(f.startsWith('-') ? { field: f.slice(1), desc: true } : { field: f });
            }
          } else filter.push({ field: k, op: 'eq', value: toValue(queryValue(v)) });
        }
        send(res, 200, toJson(await unary(`List${model}`, request, req)));
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
    if (!Number.isInteger(id) || id < 1)
      throw new HttpError(400, 'INVALID_ARGUMENT', `id: ${idText} is not an id`);
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
        if (res.headersSent) {
          res.end();
          return;
        }
        if (err instanceof HttpError) {
          send(res, err.status, { code: err.code, message: err.message });
        } else if (err && typeof err === 'object' && 'code' in err) {
          sendStatus(res, err as Partial<grpc.StatusObject>);
        } else {
          send(res, 500, {
            code: 'INTERNAL',
            message: err instanceof Error ? err.message : String(err),
          });
        }
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
        ...(f.def.type === 'password' ? { writeOnly: true } : {}),
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
        summary: `List ${m.name} objects (query parameters: field=value filters, order_by, page_size, page_token)`,
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
  }
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
