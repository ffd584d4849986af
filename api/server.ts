// The model API over gRPC: the ModelService of protos/syncord/v1/models.proto (generated from
// the registry), each RPC one call of the model service (models/service.ts), so validation is the
// model layer's and nothing is half-applied. Errors become standard status codes with
// google.rpc.BadRequest field violations in the status details; bookkeeping and feedback fields
// are refused in writes. Health checking and reflection are served too (grpcurl works as is).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import {
  AlreadyExistsError,
  ConflictError,
  CursorExpiredError,
  NotFoundError,
  PreconditionError,
  ValidationError,
  type FieldProblem,
} from '../models/errors.js';
import type { Registry, ResolvedModel } from '../models/registry.js';
import type { ListOptions, ModelObject, ModelService } from '../models/service.js';
import { before, headCursor, parseCursor, watchChanges, type Change } from '../models/watch.js';
import {
  AuthError,
  Authenticator,
  ADMIN_MODELS,
  type Principal,
  type VisibilityMemo,
} from './auth.js';
import { countVisible } from './scope.js';
import { applyRecipes, deleteRecipes, type Outcome } from '../tosca/apply.js';
import { parseRecipe, RecipeError, type Recipe } from '../tosca/parse.js';
import {
  adopt,
  AdoptError,
  discoverAll,
  pickCandidates,
  type AdoptFilter,
  type AdoptOptions,
  type AdoptSource,
} from '../synchronizer/adopt.js';
import { DELETION_POLICIES, MANAGEMENT_POLICIES } from '../models/registry.js';
import { RateLimitError, RateLimiter, rateLimitFromEnv, type RateLimit } from './limits.js';
import { addStandardServices, listen, shutdown } from '../backends/grpc/standard.js';
import { grpcServerCredentials, type ServingTls } from './tls.js';
import { resolvableDescriptors } from '../backends/grpc/descriptors.js';
import {
  API_PACKAGE,
  API_PROTO_DIR,
  API_PROTO_FILE,
  BOOKKEEPING_FIELDS,
  apiFields,
  readFieldNumbers,
  type ApiField,
} from './protogen.js';

export const MODEL_SERVICE = `${API_PACKAGE}.ModelService`;

export const API_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [API_PROTO_DIR],
};

export function apiDefinition(): protoLoader.PackageDefinition {
  const def = protoLoader.loadSync('models.proto', API_LOADER_OPTIONS);
  resolvableDescriptors(def);
  return def;
}

// ---------------------------------------------------------------------------------------------
// google.protobuf.Value and Timestamp as proto-loader gives them, to and from plain values.

type ProtoValue = Record<string, unknown>;

export function toValue(v: unknown): ProtoValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return {
    structValue: {
      fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toValue(x)])),
    },
  };
}

export function fromValue(v: unknown): unknown {
  if (!v || typeof v !== 'object') return null;
  const o = v as ProtoValue;
  if ('numberValue' in o) return o.numberValue;
  if ('stringValue' in o) return o.stringValue;
  if ('boolValue' in o) return o.boolValue;
  if ('listValue' in o) {
    const values = (o.listValue as { values?: unknown[] } | undefined)?.values ?? [];
    return values.map(fromValue);
  }
  if ('structValue' in o) {
    const fields =
      (o.structValue as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
    return Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, fromValue(x)]));
  }
  return null;
}

function toTimestamp(v: unknown): { seconds: number; nanos: number } | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : v instanceof Date ? v.getTime() : NaN;
  if (!Number.isFinite(ms)) return undefined;
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function fromTimestamp(v: unknown): string | null {
  if (!v || typeof v !== 'object') return null;
  const t = v as { seconds?: number | string; nanos?: number };
  const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  const d = new Date(ms);
  // Out of any calendar: left as text, which the model layer refuses naming the field.
  if (Number.isNaN(d.getTime())) return `${String(t.seconds)} seconds after 1970 (out of range)`;
  return d.toISOString();
}

// ---------------------------------------------------------------------------------------------
// Errors

const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: {
              fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } },
            },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            BadRequest: {
              fields: {
                field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 },
              },
              nested: {
                FieldViolation: {
                  fields: {
                    field: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
});
const StatusType = rpcTypes.lookupType('google.rpc.Status');
const BadRequestType = rpcTypes.lookupType('google.rpc.BadRequest');

/** Field violations as google.rpc.BadRequest in a google.rpc.Status, for grpc-status-details-bin. */
export function statusDetails(
  code: grpc.status,
  message: string,
  problems: FieldProblem[],
  extra: { type_url: string; value: Uint8Array }[] = [],
): Buffer {
  const badRequest = BadRequestType.encode(
    BadRequestType.create({
      field_violations: problems.map((p) => ({
        field: p.index === undefined ? p.field : `[${String(p.index)}].${p.field}`,
        description: p.reason,
      })),
    }),
  ).finish();
  return Buffer.from(
    StatusType.encode(
      StatusType.create({
        code,
        message,
        details: [
          { type_url: 'type.googleapis.com/google.rpc.BadRequest', value: badRequest },
          ...extra,
        ],
      }),
    ).finish(),
  );
}

/** The field violations of a status, decoded (for clients and tests). */
export function fieldViolations(err: grpc.ServiceError): { field: string; description: string }[] {
  return statusDetailsOf(err.metadata);
}

/** The field violations in a status's metadata (grpc-status-details-bin). */
export function statusDetailsOf(metadata: grpc.Metadata): { field: string; description: string }[] {
  const raw = metadata.get('grpc-status-details-bin')[0];
  if (!raw) return [];
  const status = StatusType.toObject(StatusType.decode(raw as Buffer)) as {
    details?: { type_url: string; value: Uint8Array }[];
  };
  const out: { field: string; description: string }[] = [];
  for (const d of status.details ?? []) {
    if (!d.type_url.endsWith('google.rpc.BadRequest')) continue;
    const br = BadRequestType.toObject(BadRequestType.decode(d.value)) as {
      field_violations?: { field: string; description: string }[];
    };
    out.push(...(br.field_violations ?? []));
  }
  return out;
}

const TOSCA_PROBLEMS_URL = `type.googleapis.com/${API_PACKAGE}.ToscaProblems`;

/** Recipe problems as the ToscaProblem message has them (absent parts empty). */
export interface ToscaProblemMessage {
  file: string;
  line: number;
  col: number;
  template: string;
  field: string;
  reason: string;
}

function problemMessages(problems: RecipeError['problems']): ToscaProblemMessage[] {
  return problems.map((p) => ({
    file: p.file,
    line: p.line,
    col: p.col,
    template: p.template ?? '',
    field: p.field ?? '',
    reason: p.reason,
  }));
}

/** The recipe problems in a status's metadata (a ToscaProblems detail), if any. */
export function recipeProblemsOf(metadata: grpc.Metadata): ToscaProblemMessage[] | undefined {
  const raw = metadata.get('grpc-status-details-bin')[0];
  if (!raw) return undefined;
  const status = StatusType.toObject(StatusType.decode(raw as Buffer)) as {
    details?: { type_url: string; value: Uint8Array }[];
  };
  const detail = status.details?.find((d) => d.type_url === TOSCA_PROBLEMS_URL);
  if (!detail) return undefined;
  const type = messageType('ToscaProblems');
  const decoded = type.toObject(type.decode(detail.value), { defaults: true }) as {
    problems?: ToscaProblemMessage[];
  };
  return decoded.problems ?? [];
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  const withDetails = (code: grpc.status, message: string, problems: FieldProblem[]) => {
    const metadata = new grpc.Metadata();
    metadata.set('grpc-status-details-bin', statusDetails(code, message, problems));
    return { code, details: message, metadata };
  };
  if (err instanceof RecipeError) {
    const problems = err.problems.map((p) => ({
      field: `${p.file}:${String(p.line)}:${String(p.col)}${p.template ? ` ${p.template}` : ''}${p.field ? `.${p.field}` : ''}`,
      reason: p.reason,
    }));
    const metadata = new grpc.Metadata();
    const message = `the recipe has ${String(problems.length)} problem(s):\n${err.message}`;
    const type = messageType('ToscaProblems');
    const structured = type
      .encode(type.fromObject({ problems: problemMessages(err.problems) }))
      .finish();
    metadata.set(
      'grpc-status-details-bin',
      statusDetails(grpc.status.INVALID_ARGUMENT, message, problems, [
        { type_url: TOSCA_PROBLEMS_URL, value: structured },
      ]),
    );
    return { code: grpc.status.INVALID_ARGUMENT, details: message, metadata };
  }
  if (err instanceof RateLimitError) {
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: err.message };
  }
  if (err instanceof AuthError) {
    return {
      code:
        err.kind === 'unauthenticated'
          ? grpc.status.UNAUTHENTICATED
          : grpc.status.PERMISSION_DENIED,
      details: err.message,
    };
  }
  if (err instanceof AlreadyExistsError) {
    return withDetails(grpc.status.ALREADY_EXISTS, err.message, err.errors);
  }
  if (err instanceof ValidationError) {
    return withDetails(grpc.status.INVALID_ARGUMENT, err.message, err.errors);
  }
  if (err instanceof NotFoundError) return { code: grpc.status.NOT_FOUND, details: err.message };
  if (err instanceof ConflictError) return { code: grpc.status.ABORTED, details: err.message };
  if (err instanceof CursorExpiredError) {
    return { code: grpc.status.OUT_OF_RANGE, details: err.message };
  }
  if (err instanceof PreconditionError || err instanceof AdoptError) {
    return { code: grpc.status.FAILED_PRECONDITION, details: err.message };
  }
  return {
    code: grpc.status.INTERNAL,
    details: `internal error: ${err instanceof Error ? err.message : String(err)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

const READ_ONLY_BOOKKEEPING = BOOKKEEPING_FIELDS.filter((b) => b.readOnly).map((b) => b.name);
const WRITABLE_BOOKKEEPING = BOOKKEEPING_FIELDS.filter((b) => !b.readOnly).map((b) => b.name);

class Codec {
  readonly fields: ApiField[];
  readonly byName: Map<string, ApiField>;

  constructor(
    readonly model: ResolvedModel,
    lock: ReturnType<typeof readFieldNumbers>,
  ) {
    this.fields = apiFields(model, lock);
    this.byName = new Map(this.fields.map((f) => [f.name, f]));
  }

  /** A model object as its message (nulls left out: proto3 optional fields absent). */
  toMessage(obj: ModelObject): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const b of BOOKKEEPING_FIELDS) {
      const v = obj[b.name];
      if (v === null || v === undefined) continue;
      out[b.name] =
        b.type === 'google.protobuf.Timestamp'
          ? toTimestamp(v)
          : b.type === 'google.protobuf.Value'
            ? toValue(v)
            : v;
    }
    for (const f of this.fields) {
      const v = obj[f.name];
      if (f.def.type === 'password' || f.def.secret === true) continue;
      if (f.type === 'google.protobuf.Value') {
        if (v !== undefined) out[f.name] = toValue(v);
        continue;
      }
      if (v === null || v === undefined) continue;
      out[f.name] = f.type === 'google.protobuf.Timestamp' ? toTimestamp(v) : v;
    }
    return out;
  }

  /**
   * The values a write message carries: the fields it sets, or those `mask` names (a named
   * field left unset is cleared). Read-only fields are problems.
   */
  values(msg: Record<string, unknown>, mask?: string[]): Record<string, unknown> {
    const problems: FieldProblem[] = [];
    const out: Record<string, unknown> = {};
    const present = (name: string) => msg[name] !== undefined && msg[name] !== null;
    for (const name of READ_ONLY_BOOKKEEPING) {
      if (name === 'id') continue;
      if (
        present(name) &&
        !(typeof msg[name] === 'number' && msg[name] === 0) &&
        msg[name] !== ''
      ) {
        problems.push({ field: name, reason: 'is read-only (the synchronizer writes it)' });
      }
    }
    const wanted = mask ?? [
      ...WRITABLE_BOOKKEEPING.filter(present),
      ...this.fields.filter((f) => present(f.name)).map((f) => f.name),
    ];
    for (const name of wanted) {
      if (name === 'id') continue;
      if (WRITABLE_BOOKKEEPING.includes(name)) {
        out[name] = present(name) ? msg[name] : null;
        continue;
      }
      const f = this.byName.get(name);
      if (!f) {
        problems.push({
          field: name,
          reason: READ_ONLY_BOOKKEEPING.includes(name)
            ? 'is read-only (the synchronizer writes it)'
            : `is not a field of ${this.model.name}`,
        });
        continue;
      }
      if (f.def.feedback) {
        problems.push({ field: name, reason: 'is read-only (the synchronizer reports it)' });
        continue;
      }
      const v = msg[name];
      if (f.type === 'google.protobuf.Value') out[name] = fromValue(v);
      else if (f.type === 'google.protobuf.Timestamp') out[name] = fromTimestamp(v);
      else out[name] = present(name) ? v : null;
    }
    if (problems.length) throw new ValidationError(this.model.name, problems);
    return out;
  }
}

/** Each model's codec, made once per registry (from the committed field numbers). */
function codecsFor(registry: Registry): Map<string, Codec> {
  let codecs = codecsByRegistry.get(registry);
  if (!codecs) {
    const lock = readFieldNumbers();
    codecs = new Map(registry.models().map((m) => [m.name, new Codec(m, lock)]));
    codecsByRegistry.set(registry, codecs);
  }
  return codecs;
}
const codecsByRegistry = new WeakMap<Registry, Map<string, Codec>>();

// ---------------------------------------------------------------------------------------------

type Unary = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;

/**
 * A unary handler; with `auth`, only for an authenticated caller (passed in), within the
 * caller's token's rate limit.
 */
function unary(
  auth: Authenticator | undefined,
  fn: (req: Record<string, unknown>, who: Principal) => Promise<Record<string, unknown>>,
  limiter?: RateLimiter,
): Unary {
  const anonymous: Principal = {
    userId: 0,
    name: '',
    role: 'viewer',
    trustDomainId: null,
    tokenId: 0,
  };
  return (call, callback) => {
    (auth ? auth.authenticate(call.metadata) : Promise.resolve(anonymous))
      .then((who) => {
        if (auth) limiter?.take(`token:${String(who.tokenId)}`);
        return fn(call.request, who);
      })
      .then(
        (res) => {
          callback(null, res);
        },
        (err: unknown) => {
          callback(toStatus(err));
        },
      );
  };
}

function listOptions(req: Record<string, unknown>): ListOptions {
  const filters = (req.filter as Record<string, unknown>[] | undefined) ?? [];
  const orderBy = (req.order_by as Record<string, unknown>[] | undefined) ?? [];
  return {
    filter: filters.map((f) => ({
      field: typeof f.field === 'string' ? f.field : '',
      ...(f.op ? { op: f.op as NonNullable<ListOptions['filter']>[number]['op'] } : {}),
      ...(f.value !== undefined ? { value: fromValue(f.value) } : {}),
    })),
    orderBy: orderBy.map((o) => ({
      field: typeof o.field === 'string' ? o.field : '',
      desc: o.desc === true,
    })),
    ...(typeof req.page_size === 'number' && req.page_size > 0 ? { pageSize: req.page_size } : {}),
    ...(typeof req.page_token === 'string' && req.page_token ? { pageToken: req.page_token } : {}),
    ...(typeof req.status === 'string' && req.status
      ? { status: req.status as NonNullable<ListOptions['status']> }
      : {}),
  };
}

/** The messages of models.proto as protobufjs types, to pack objects into google.protobuf.Any. */
let messageTypes: protobuf.Root | undefined;
function messageType(model: string): protobuf.Type {
  messageTypes ??= new protobuf.Root().loadSync(API_PROTO_FILE, { keepCase: true });
  return messageTypes.lookupType(`${API_PACKAGE}.${model}`);
}

interface PackedObject {
  type_url: string;
  value: Uint8Array;
}

/** A committed change with its object as read once for every watcher (absent once reaped). */
interface FedChange {
  change: Change;
  obj?: ModelObject;
  packed?: PackedObject;
}

/** The message inside a packed object, as proto-loader would give it (for the gateway). */
export function unpack(packed: { type_url: string; value: Uint8Array }): Record<string, unknown> {
  const name = packed.type_url.slice(packed.type_url.lastIndexOf('.') + 1);
  const type = messageType(name);
  return type.toObject(type.decode(packed.value), { longs: Number, enums: String });
}

/** An object as google.protobuf.Any of its own model's message. */
function pack(obj: ModelObject, codecs: Map<string, Codec>): PackedObject {
  const type = messageType(obj.leaf_model);
  return {
    type_url: `type.googleapis.com/${API_PACKAGE}.${obj.leaf_model}`,
    value: type.encode(type.fromObject(codecs.get(obj.leaf_model)!.toMessage(obj))).finish(),
  };
}

/** Reads a change's object (once) and packs it. */
async function feed(
  change: Change,
  models: ModelService,
  codecs: Map<string, Codec>,
): Promise<FedChange> {
  if (change.op === 'reap' || !codecs.has(change.model)) return { change };
  try {
    const obj = await models.get(change.model, change.id, { includeDeleted: true });
    return { change, obj, packed: pack(obj, codecs) };
  } catch (err) {
    if (err instanceof NotFoundError) return { change };
    throw err;
  }
}

/**
 * One change-log watch shared by every Watch that starts from now: one LISTEN connection and
 * one read of each changed object, however many clients watch (each had its own before, and 50
 * watchers made 50 queries per change). Restarts from its last cursor after a failure, so its
 * subscribers see no gap. A Watch from a cursor reads the log itself.
 */
export class ChangeFeed {
  private readonly subscribers = new Set<(c: FedChange) => void>();
  private readonly abort = new AbortController();
  private started: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly models: ModelService,
    private readonly codecs: Map<string, Codec>,
  ) {}

  static for(registry: Registry, models: ModelService, url: string): ChangeFeed {
    return new ChangeFeed(url, models, codecsFor(registry));
  }

  /**
   * Delivers every change committed from now on to `fn` (in commit order) until the returned
   * function is called. "From now" is the log's head when subscribing: a feed still working
   * through a backlog (10,000 creates) does not hand the new subscriber what was committed
   * before it came, which a GUI would count as new objects.
   */
  async subscribe(fn: (c: FedChange) => void): Promise<() => void> {
    const head = parseCursor(await headCursor(this.models.pool));
    const after = (c: FedChange) => {
      if (before(head, parseCursor(c.change.cursor))) fn(c);
    };
    this.subscribers.add(after);
    this.started ??= this.start();
    await this.started;
    return () => {
      this.subscribers.delete(after);
    };
  }

  private async start(): Promise<void> {
    let cursor = await headCursor(this.models.pool);
    void (async () => {
      while (!this.abort.signal.aborted) {
        try {
          for await (const change of watchChanges(this.url, {
            from: cursor,
            signal: this.abort.signal,
          })) {
            cursor = change.cursor;
            if (this.subscribers.size === 0) continue;
            const fed = await feed(change, this.models, this.codecs);
            for (const fn of this.subscribers) fn(fed);
          }
        } catch {
          if (this.closed()) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
  }

  close(): void {
    this.abort.abort();
  }

  private closed(): boolean {
    return this.abort.signal.aborted;
  }
}

/** The Watch RPC: the change log from now (shared) or from a cursor, each change with its object. */
function watchHandler(
  registry: Registry,
  models: ModelService,
  url: string,
  codecs: Map<string, Codec>,
  auth: Authenticator,
  shared: ChangeFeed,
): grpc.handleServerStreamingCall<Record<string, unknown>, Record<string, unknown>> {
  return (call) => {
    const abort = new AbortController();
    let unsubscribe: (() => void) | undefined;
    const stop = () => {
      abort.abort();
      unsubscribe?.();
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    const fail = (err: unknown) => {
      if (abort.signal.aborted) return;
      stop();
      // A server stream ends with a status by emitting it as an error.
      call.emit('error', toStatus(err));
    };
    const run = async () => {
      const who = await auth.authenticate(call.metadata);
      const wanted = (call.request.models as string[] | undefined) ?? [];
      const problems = wanted
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => !registry.has(m))
        .map(({ m, i }) => ({ field: `models[${String(i)}]`, reason: `no model named ${m}` }));
      if (problems.length) throw new ValidationError('WatchRequest', problems);
      const family = new Set(wanted.flatMap((m) => registry.get(m).family));
      const from = typeof call.request.from_cursor === 'string' ? call.request.from_cursor : '';
      /** Sends a change if the caller may see it; waits while the client is slow. */
      const send = async (fed: FedChange) => {
        const { change } = fed;
        if (family.size && !family.has(change.model)) return;
        // What the caller may not read is not sent (nor, for a caller limited to a trust
        // domain, the reaping of objects it can no longer check).
        if (ADMIN_MODELS.has(change.model) && who.role !== 'admin') return;
        if (change.op === 'reap' && who.trustDomainId !== null && who.role !== 'admin') return;
        if (fed.obj && !(await auth.visible(who, fed.obj.leaf_model, fed.obj))) return;
        const ok = call.write({
          cursor: change.cursor,
          model: change.model,
          id: change.id,
          op: change.op,
          version: change.version,
          committed_at: toTimestamp(change.committedAt),
          ...(fed.packed ? { object: fed.packed } : {}),
        });
        if (!ok) await new Promise((resolve) => call.once('drain', resolve));
      };
      if (!from) {
        // From now: the shared feed, each change sent in order behind the previous one.
        let chain = Promise.resolve();
        unsubscribe = await shared.subscribe((fed) => {
          chain = chain.then(() => send(fed)).catch(fail);
        });
        if (abort.signal.aborted) unsubscribe();
        await new Promise<void>((resolve) => {
          abort.signal.addEventListener('abort', () => {
            resolve();
          });
        });
        return;
      }
      for await (const change of watchChanges(url, {
        from,
        ...(family.size ? { models: [...family] } : {}),
        signal: abort.signal,
      })) {
        await send(await feed(change, models, codecs));
        if (abort.signal.aborted) return;
      }
    };
    run().then(() => {
      if (!abort.signal.aborted) call.end();
    }, fail);
  };
}

/** The WhoAmI answer for a caller. */
function whoAmI(p: Principal): Record<string, unknown> {
  return {
    id: p.userId,
    name: p.name,
    role: p.role,
    ...(p.trustDomainId !== null ? { trust_domain_id: p.trustDomainId } : {}),
  };
}

/** The handlers of every RPC of the ModelService. */
export function modelServiceHandlers(
  registry: Registry,
  models: ModelService,
  url: string,
  auth: Authenticator,
  limit: RateLimit | undefined,
  shared: ChangeFeed,
  /** Where ListAdoptable and Adopt find backend objects (none: they list nothing). */
  sources: readonly AdoptSource[] = [],
): grpc.UntypedServiceImplementation {
  const limiter = limit ? new RateLimiter(limit) : undefined;
  // Login by user name: a tenth of the rate, to slow password guessing.
  const logins = limit
    ? new RateLimiter({ perSecond: Math.max(1, limit.perSecond / 10), burst: 10 })
    : undefined;
  const guarded = (
    fn: (req: Record<string, unknown>, who: Principal) => Promise<Record<string, unknown>>,
  ) => unary(auth, fn, limiter);
  const handlers: grpc.UntypedServiceImplementation = {};
  const codecs = codecsFor(registry);
  handlers.Watch = watchHandler(registry, models, url, codecs, auth, shared);
  handlers.Login = unary(undefined, async (req) => {
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    logins?.take(`login:${text(req.username)}`, 'logins a second per user name');
    const r = await auth.login(text(req.username), text(req.password));
    return {
      token: r.token,
      ...(r.expiresAt ? { expires_at: toTimestamp(r.expiresAt) } : {}),
      user: whoAmI(r.principal),
    };
  });
  handlers.Logout = guarded(async (_req, who) => {
    await auth.logout(who);
    return {};
  });
  handlers.WhoAmI = guarded((_req, who) => Promise.resolve(whoAmI(who)));
  /** The recipes of a ToscaRequest, parsed (every problem of every file at once). */
  const recipesOf = (req: Record<string, unknown>, who: Principal): Recipe[] => {
    if (who.role === 'viewer')
      throw new AuthError('denied', 'role viewer may not apply or delete recipes');
    if (who.trustDomainId !== null && who.role !== 'admin') {
      throw new AuthError(
        'denied',
        'recipes span trust domains: only an operator of every trust domain or an admin may apply or delete them',
      );
    }
    const { recipes, problems } = parseFiles(req);
    if (problems.length) throw new RecipeError(problems);
    for (const r of recipes) for (const t of r.templates) auth.checkWrite(who, t.model);
    return recipes;
  };
  /** Every file of a ToscaRequest parsed: the recipes, and every problem of every file. */
  const parseFiles = (req: Record<string, unknown>) => {
    const files = (req.files as { name?: string; content?: string }[] | undefined) ?? [];
    if (files.length === 0) {
      throw new ValidationError('ToscaRequest', [
        { field: 'files', reason: 'give at least one recipe' },
      ]);
    }
    const problems: RecipeError['problems'] = [];
    const recipes: Recipe[] = [];
    files.forEach((f, i) => {
      try {
        recipes.push(parseRecipe(f.content ?? '', f.name || `files[${String(i)}]`, registry));
      } catch (err) {
        if (err instanceof RecipeError) problems.push(...err.problems);
        else throw err;
      }
    });
    return { recipes, problems };
  };
  // Any caller may have recipes checked: parsing only, nothing is read or written.
  handlers.ValidateTosca = guarded((req) =>
    Promise.resolve({ problems: problemMessages(parseFiles(req).problems) }),
  );
  const outcomesOf = (outcomes: Outcome[]) => ({
    outcomes: outcomes.map((o) => ({ ...o, id: o.id ?? 0, fields: o.fields ?? [] })),
  });
  handlers.ApplyTosca = guarded(async (req, who) =>
    outcomesOf(
      await applyRecipes(models, registry, recipesOf(req, who), { dryRun: req.dry_run === true }),
    ),
  );
  handlers.DeleteTosca = guarded(async (req, who) =>
    outcomesOf(
      await deleteRecipes(models, registry, recipesOf(req, who), { dryRun: req.dry_run === true }),
    ),
  );
  /** An AdoptRequest's filter and policies, checked (INVALID_ARGUMENT naming the field). */
  const adoptRequest = (req: Record<string, unknown>, who: Principal) => {
    if (who.role === 'viewer') throw new AuthError('denied', 'role viewer may not adopt');
    if (who.trustDomainId !== null && who.role !== 'admin') {
      throw new AuthError(
        'denied',
        'adoption spans trust domains: only an operator of every trust domain or an admin may adopt',
      );
    }
    const strings = (v: unknown) =>
      Array.isArray(v) ? v.filter((s) => typeof s === 'string') : [];
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const problems: FieldProblem[] = [];
    const backends = strings(req.backends);
    for (const b of backends) {
      if (!sources.some((s) => s.backend === b)) {
        problems.push({
          field: 'backends',
          reason: `${b}: no such backend configured (configured: ${sources.map((s) => s.backend).join(', ') || 'none'})`,
        });
      }
    }
    const options: AdoptOptions = {};
    const management = text(req.management_policy);
    if (management) {
      if ((MANAGEMENT_POLICIES as readonly string[]).includes(management)) {
        options.management_policy = management as AdoptOptions['management_policy'];
      } else {
        problems.push({
          field: 'management_policy',
          reason: `must be one of ${MANAGEMENT_POLICIES.join(', ')}, not "${management}"`,
        });
      }
    }
    const deletion = text(req.deletion_policy);
    if (deletion) {
      if ((DELETION_POLICIES as readonly string[]).includes(deletion)) {
        options.deletion_policy = deletion as AdoptOptions['deletion_policy'];
      } else {
        problems.push({
          field: 'deletion_policy',
          reason: `must be one of ${DELETION_POLICIES.join(', ')}, not "${deletion}"`,
        });
      }
    }
    if (problems.length) throw new ValidationError('AdoptRequest', problems);
    const filter: AdoptFilter = {
      ...(strings(req.kinds).length ? { kinds: strings(req.kinds) } : {}),
      ...(text(req.namespace) ? { namespace: text(req.namespace) } : {}),
      ...(text(req.selector) ? { selector: text(req.selector) } : {}),
      ...(text(req.instance) ? { instance: text(req.instance) } : {}),
      ...(text(req.service) ? { service: text(req.service) } : {}),
    };
    const wanted = backends.length ? sources.filter((s) => backends.includes(s.backend)) : sources;
    return { wanted, filter, options, keys: strings(req.keys) };
  };
  handlers.ListAdoptable = guarded(async (req, who) => {
    const { wanted, filter } = adoptRequest(req, who);
    const { candidates, failures } = await discoverAll(models, wanted, filter);
    return {
      candidates: candidates.map((c) => ({
        ...c,
        namespace: c.namespace ?? '',
        cluster: c.cluster ?? '',
        values: toValue(c.values),
        refs: c.refs ?? {},
        problem: c.problem ?? '',
        identity: c.identity ?? '',
        also: c.also ?? [],
        together: c.together ?? [],
      })),
      failures,
    };
  });
  handlers.Adopt = guarded(async (req, who) => {
    const { wanted, filter, options, keys } = adoptRequest(req, who);
    const { candidates, failures } = await discoverAll(models, wanted, filter);
    const picked = pickCandidates(candidates, keys);
    let chosen = keys.length ? picked.chosen : candidates;
    const missing = picked.missing;
    if (missing.length) {
      const why = failures.length ? ` (could not list ${failures.join('; ')})` : '';
      throw new ValidationError('AdoptRequest', [
        {
          field: 'keys',
          reason: `${missing.join(', ')}: not among the objects that can be adopted${why}`,
        },
      ]);
    }
    if (!keys.length) chosen = chosen.filter((c) => !c.problem);
    for (const c of chosen) auth.checkWrite(who, c.model);
    const adopted = await adopt(models, chosen, options);
    return { adopted: adopted.map((a) => ({ ...a, name: a.name ?? '' })) };
  });
  for (const m of registry.models()) {
    const codec = codecs.get(m.name)!;
    const name = m.name;
    /** The object, if the caller may see it; NOT_FOUND otherwise (existence is not told). */
    const readable = async (who: Principal, id: number) => {
      const obj = await models.get(name, id);
      if (!(await auth.visible(who, name, obj))) throw new NotFoundError(name, id);
      return obj;
    };
    handlers[`List${name}`] = guarded(async (req, who) => {
      auth.checkRead(who, name);
      const options = listOptions(req);
      // For a caller limited to a trust domain, the total counts only what it may see.
      const all = auth.seesAll(who);
      const page = await models.list(name, { ...options, withTotal: all });
      const memo: VisibilityMemo = new Map();
      const items: Record<string, unknown>[] = [];
      for (const o of page.items) {
        if (await auth.visible(who, name, o, memo)) items.push(codec.toMessage(o));
      }
      const total = all
        ? (page.totalSize ?? 0)
        : await countVisible(models, auth, who, name, options, memo);
      return { items, next_page_token: page.nextPageToken ?? '', total_size: total };
    });
    handlers[`Get${name}`] = guarded(async (req, who) => {
      auth.checkRead(who, name);
      return codec.toMessage(await readable(who, Number(req.id ?? 0)));
    });
    handlers[`Create${name}`] = guarded(async (req, who) => {
      auth.checkWrite(who, name);
      if (typeof req.id === 'number' && req.id !== 0) {
        throw new ValidationError(name, [{ field: 'id', reason: 'is assigned by the server' }]);
      }
      const values = codec.values(req);
      await auth.checkScope(who, name, values);
      const made = codec.toMessage(await models.create(name, values));
      if (ADMIN_MODELS.has(name)) auth.forgetChecks();
      return made;
    });
    handlers[`Update${name}`] = guarded(async (req, who) => {
      auth.checkWrite(who, name);
      const object = (req.object as Record<string, unknown> | undefined) ?? {};
      const id = Number(object.id ?? 0);
      if (!id) throw new ValidationError(name, [{ field: 'object.id', reason: 'is required' }]);
      const mask = (req.update_mask as { paths?: string[] } | undefined)?.paths;
      const values = codec.values(object, mask?.length ? mask : undefined);
      const current = await readable(who, id);
      // Both where it is and where the edit would put it must be the caller's.
      await auth.checkScope(who, name, current);
      await auth.checkScope(who, name, { ...current, ...values });
      const expected = req.expected_version;
      const updated = await models.update(
        name,
        id,
        values,
        typeof expected === 'number' ? { expectedVersion: expected } : {},
      );
      // A user deactivated or given another role, a role renamed: no check cached here holds.
      if (ADMIN_MODELS.has(name)) auth.forgetChecks();
      return codec.toMessage(updated);
    });
    handlers[`Delete${name}`] = guarded(async (req, who) => {
      auth.checkWrite(who, name);
      const id = Number(req.id ?? 0);
      await auth.checkScope(who, name, await readable(who, id));
      const expected = req.expected_version;
      const r = await models.delete(
        name,
        id,
        typeof expected === 'number' ? { expectedVersion: expected } : {},
      );
      if (ADMIN_MODELS.has(name)) auth.forgetChecks();
      return { id: r.object.id, version: r.object.version };
    });
  }
  return handlers;
}

export interface ApiServer {
  address: string;
  port: number;
  /** The RPC handlers, for the HTTP/JSON gateway (one code path). */
  handlers: grpc.UntypedServiceImplementation;
  /** Who calls and what they may see, for the gateway's own routes. */
  auth: Authenticator;
  close(): Promise<void>;
}

/** Serves the model API on `listen` ("127.0.0.1:0": any free port). */
export async function startApiServer(options: {
  listen: string;
  registry: Registry;
  models: ModelService;
  /** The database URL, for Watch's own LISTEN connections. */
  url: string;
  /** Calls a second per token (default SYNCORD_API_RATE, else 500); null: no limit. */
  rateLimit?: RateLimit | null;
  /** Serve TLS only, with this certificate and key (and a client CA: mutual TLS). */
  tls?: ServingTls;
  /** Where ListAdoptable and Adopt find backend objects. */
  sources?: readonly AdoptSource[];
}): Promise<ApiServer> {
  const definition = apiDefinition();
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    syncord: { v1: { ModelService: { service: grpc.ServiceDefinition } } };
  };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const shared = ChangeFeed.for(options.registry, options.models, options.url);
  const auth = new Authenticator(options.models, options.registry);
  const handlers = modelServiceHandlers(
    options.registry,
    options.models,
    options.url,
    auth,
    options.rateLimit === null ? undefined : (options.rateLimit ?? rateLimitFromEnv()),
    shared,
    options.sources,
  );
  server.addService(pkg.syncord.v1.ModelService.service, handlers);
  addStandardServices(server, definition, [MODEL_SERVICE]);
  const { address, port } = await listen(
    server,
    options.listen,
    grpcServerCredentials(options.tls),
  );
  return {
    address,
    port,
    handlers,
    auth,
    close: () => {
      shared.close();
      return shutdown(server);
    },
  };
}
