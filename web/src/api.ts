// The gateway client: fetch under /api/v1 with the session's token; every refusal becomes an
// ApiError carrying the gateway's code, field violations and recipe problems.
import {
  normalizeCandidate,
  type AdoptCandidate,
  type Adoptable,
  type AdoptedObject,
} from './adopt';
import type {
  BackendObject,
  Dependent,
  ErrorBody,
  FieldViolation,
  HistoryEntry,
  ListResponse,
  LoginResponse,
  ModelInfo,
  Obj,
  Outcome,
  Problem,
  RecipeFile,
  Stats,
  WhoAmI,
} from './types';

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldViolations: FieldViolation[] = [],
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The gateway has no such route (an endpoint newer than the server) or no such object. */
  get notFound(): boolean {
    return this.status === 404;
  }

  /** An edit or delete named a version the object is no longer at. */
  get stale(): boolean {
    return this.status === 409 && this.code === 'ABORTED';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorOf(status: number, body: unknown, statusText: string): ApiError {
  if (!isRecord(body)) return new ApiError(status, 'UNKNOWN', statusText || `HTTP ${status}`);
  const e = body as Partial<ErrorBody>;
  return new ApiError(
    status,
    typeof e.code === 'string' ? e.code : 'UNKNOWN',
    typeof e.message === 'string' ? e.message : statusText,
    Array.isArray(e.field_violations) ? e.field_violations : [],
    Array.isArray(e.problems) ? e.problems : [],
  );
}

export interface RequestOptions {
  body?: unknown;
  ifMatch?: number;
  signal?: AbortSignal;
}

export class Api {
  constructor(
    private readonly token: string | null,
    /** Called when the gateway refuses the token (expired, logged out elsewhere). */
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...extra,
    };
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const headers = this.headers({
      accept: 'application/json',
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.ifMatch !== undefined ? { 'if-match': String(options.ifMatch) } : {}),
    });
    let res: Response;
    try {
      res = await fetch(`${API}/${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'UNAVAILABLE', `the server did not answer: ${String(err)}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : {};
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      if (res.status === 401 && path !== 'login') this.onUnauthorized();
      throw errorOf(res.status, body, res.statusText);
    }
    if (body === undefined) throw new ApiError(res.status, 'UNKNOWN', 'the answer is not JSON');
    return body;
  }

  async login(username: string, password: string): Promise<LoginResponse> {
    return (await this.request('POST', 'login', { body: { username, password } })) as LoginResponse;
  }

  async logout(): Promise<void> {
    await this.request('POST', 'logout', { body: {} });
  }

  async whoami(): Promise<WhoAmI> {
    return (await this.request('GET', 'whoami')) as WhoAmI;
  }

  async models(): Promise<ModelInfo[]> {
    const body = (await this.request('GET', 'models')) as { models?: ModelInfo[] };
    return body.models ?? [];
  }

  async openApi(): Promise<unknown> {
    return this.request('GET', 'openapi.json');
  }

  async list(model: string, query: URLSearchParams, signal?: AbortSignal): Promise<ListResponse> {
    const q = query.toString();
    const body = (await this.request('GET', `${model}${q ? `?${q}` : ''}`, {
      ...(signal ? { signal } : {}),
    })) as Partial<ListResponse>;
    return {
      items: body.items ?? [],
      next_page_token: body.next_page_token ?? '',
      ...(typeof body.total_size === 'number' ? { total_size: body.total_size } : {}),
    };
  }

  async get(model: string, id: number): Promise<Obj> {
    return (await this.request('GET', `${model}/${String(id)}`)) as Obj;
  }

  async create(model: string, fields: Record<string, unknown>): Promise<Obj> {
    return (await this.request('POST', model, { body: fields })) as Obj;
  }

  async update(
    model: string,
    id: number,
    version: number,
    fields: Record<string, unknown>,
  ): Promise<Obj> {
    return (await this.request('PATCH', `${model}/${String(id)}`, {
      body: fields,
      ifMatch: version,
    })) as Obj;
  }

  async remove(model: string, id: number, version: number): Promise<void> {
    await this.request('DELETE', `${model}/${String(id)}`, { ifMatch: version });
  }

  async history(model: string, id: number): Promise<HistoryEntry[]> {
    const body = (await this.request('GET', `${model}/${String(id)}/history`)) as {
      entries?: HistoryEntry[];
    };
    return body.entries ?? [];
  }

  async backend(model: string, id: number): Promise<BackendObject[]> {
    const body = (await this.request('GET', `${model}/${String(id)}/backend`)) as {
      objects?: BackendObject[];
    };
    return body.objects ?? [];
  }

  async dependents(model: string, id: number): Promise<Dependent[]> {
    const body = (await this.request('GET', `${model}/${String(id)}/dependents`)) as {
      dependents?: Dependent[];
    };
    return body.dependents ?? [];
  }

  async stats(): Promise<Stats> {
    const body = (await this.request('GET', 'stats')) as Partial<Stats>;
    return {
      models: body.models ?? {},
      ...(body.synchronizer ? { synchronizer: body.synchronizer } : {}),
    };
  }

  async toscaValidate(files: RecipeFile[]): Promise<Problem[]> {
    const body = (await this.request('POST', 'tosca/validate', { body: { files } })) as {
      problems?: Problem[];
    };
    return body.problems ?? [];
  }

  async tosca(
    action: 'apply' | 'delete',
    files: RecipeFile[],
    dryRun: boolean,
  ): Promise<Outcome[]> {
    const body = (await this.request('POST', `tosca/${action}`, {
      body: { files, dry_run: dryRun },
    })) as { outcomes?: Outcome[] };
    return body.outcomes ?? [];
  }

  /** Backend objects that could be adopted (GET adoptable?backends=&kinds=&namespace=&selector=). */
  async adoptable(query: string): Promise<Adoptable> {
    const body = (await this.request('GET', `adoptable${query ? `?${query}` : ''}`)) as {
      candidates?: Partial<AdoptCandidate>[];
      failures?: string[];
    };
    return {
      candidates: (body.candidates ?? []).map(normalizeCandidate),
      failures: body.failures ?? [],
    };
  }

  /** Adopts candidates, in one transaction (POST adopt); refused as a whole. */
  async adopt(body: Record<string, unknown>): Promise<AdoptedObject[]> {
    const reply = (await this.request('POST', 'adopt', { body })) as {
      adopted?: AdoptedObject[];
    };
    return reply.adopted ?? [];
  }

  /** Opens the watch stream (server-sent events); the caller reads and closes it. */
  watch(models: string[], cursor: string, signal: AbortSignal): Promise<Response> {
    const q = new URLSearchParams({ models: models.join(',') });
    if (cursor) q.set('from_cursor', cursor);
    return fetch(`${API}/watch?${q.toString()}`, {
      headers: this.headers({ accept: 'text/event-stream' }),
      signal,
    });
  }
}

/** Every object of a model matching a query, page after page, up to a limit. */
export async function listAll(
  api: Api,
  model: string,
  query: Record<string, string> = {},
  limit = 5000,
): Promise<{ items: Obj[]; truncated: boolean }> {
  const items: Obj[] = [];
  let token = '';
  for (;;) {
    const q = new URLSearchParams({ ...query, page_size: String(Math.min(1000, limit)) });
    if (token) q.set('page_token', token);
    const page = await api.list(model, q);
    items.push(...page.items);
    token = page.next_page_token;
    if (!token) return { items, truncated: false };
    if (items.length >= limit) return { items, truncated: true };
  }
}

/** An object read as its own model (all its fields: a ServiceInstance that is a VSG one), and that model. */
export async function readLeaf(
  api: Api,
  byName: ReadonlyMap<string, ModelInfo>,
  model: ModelInfo,
  id: number,
): Promise<{ obj: Obj; leaf: ModelInfo }> {
  const obj = await api.get(model.name, id);
  const leafName = typeof obj.leaf_model === 'string' ? obj.leaf_model : model.name;
  const leaf = byName.get(leafName);
  if (!leaf || leafName === model.name) return { obj, leaf: model };
  return { obj: await api.get(leafName, id), leaf };
}

/** The text of an error for a person. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message || err.code} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}
