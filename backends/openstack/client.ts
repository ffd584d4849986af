// A small typed client for the few Keystone v3, Neutron, Nova and Glance calls Syncord makes. No
// well-kept OpenStack client exists for Node (pkgcloud, the one that was, is unmaintained since
// 2021 and predates Keystone v3 application credentials), so this is written by hand on `fetch`.
//
// - Keystone: a token from a password (user in a domain, project scope) or an application
//   credential; the service catalog gives each service's endpoint in the region; the token is
//   kept until five minutes before it expires, and fetched again (once, for every caller) then or
//   when a service answers 401.
// - Every request has a deadline (`timeoutMs`, default 30 s). Reads and deletes are retried on a
//   connection failure or a 502/503/504, twice, with a short backoff; creates never are: callers
//   look an object up by its name and owner before they create it, so that a create that did
//   happen but whose answer was lost is found, not made twice.
// - A refusal is an OpenStackError: the service, the call, the HTTP status and the service's own
//   message (Neutron's NeutronError, Nova's badRequest/itemNotFound/..., Keystone's error).

import { failpoint } from '../failpoint.js';

export interface Credentials {
  /** Keystone v3, e.g. http://127.0.0.1:5000/v3 (a URL without /v3 gets it added). */
  authUrl: string;
  regionName?: string;
  /** Password authentication, scoped to a project. */
  username?: string;
  password?: string;
  userDomainName?: string;
  projectName?: string;
  projectDomainName?: string;
  /** Or an application credential (its project is its own). */
  applicationCredentialId?: string;
  applicationCredentialSecret?: string;
}

export type ServiceType = 'identity' | 'compute' | 'network' | 'image' | 'placement';

export class OpenStackError extends Error {
  constructor(
    message: string,
    /** The HTTP status; undefined when the service could not be reached. */
    readonly status: number | undefined,
    readonly service: ServiceType,
  ) {
    super(message);
    this.name = 'OpenStackError';
  }

  get notFound(): boolean {
    return this.status === 404;
  }

  get conflict(): boolean {
    return this.status === 409;
  }
}

interface Token {
  value: string;
  expiresAt: number;
  projectId: string;
  userId: string;
  catalog: { type: string; endpoints: { interface: string; region_id?: string; url: string }[] }[];
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP request a Session sent: its service, method and path (no query). */
export interface SentRequest {
  service: ServiceType;
  method: string;
  path: string;
}

const requestListeners = new Set<(request: SentRequest) => void>();

/**
 * Calls `listener` for every HTTP request any Session sends (Keystone's token requests and retries
 * included) until the function returned is called: how tests and benchmarks count what Syncord
 * asks of OpenStack.
 */
export function onRequest(listener: (request: SentRequest) => void): () => void {
  requestListeners.add(listener);
  return () => {
    requestListeners.delete(listener);
  };
}

const RETRYABLE = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The message a service put in its error body, whatever its shape. */
export function messageOf(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (typeof o.message === 'string') return o.message;
  // Neutron {NeutronError: {message}}, Nova {badRequest: {message}}, Keystone {error: {message}}.
  for (const v of Object.values(o)) {
    if (
      typeof v === 'object' &&
      v !== null &&
      typeof (v as { message?: unknown }).message === 'string'
    )
      return (v as { message: string }).message;
  }
  // Placement and newer APIs: {errors: [{detail}]}.
  const errors = o.errors;
  if (Array.isArray(errors) && errors.length) {
    const first = errors[0] as { detail?: unknown; title?: unknown };
    if (typeof first.detail === 'string') return first.detail;
    if (typeof first.title === 'string') return first.title;
  }
  return undefined;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v))
      v.forEach((x) => {
        p.append(k, x);
      });
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** One Keystone session: a token for a project, and requests to the services of its catalog. */
export class Session {
  private token: Token | undefined;
  private pending: Promise<Token> | undefined;
  private readonly timeoutMs: number;

  constructor(
    readonly credentials: Credentials,
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs =
      options.timeoutMs ?? Number(process.env.SYNCORD_OPENSTACK_TIMEOUT_MS ?? 30_000);
    const missing = Session.problems(credentials);
    if (missing.length) throw new Error(missing.join('; '));
  }

  /** What the credentials lack, one sentence each (empty: usable). */
  static problems(c: Credentials): string[] {
    const out: string[] = [];
    if (!c.authUrl) out.push('auth_url: the Keystone v3 URL is needed');
    else if (!/^https?:\/\//.test(c.authUrl))
      out.push(`auth_url: ${c.authUrl} is not an http(s) URL`);
    const app = c.applicationCredentialId ?? c.applicationCredentialSecret;
    if (app) {
      if (!c.applicationCredentialId) out.push('application_credential_id is missing');
      if (!c.applicationCredentialSecret) out.push('application_credential_secret is missing');
    } else {
      if (!c.username) out.push('username (or an application credential) is needed');
      if (!c.password) out.push('password (or an application credential) is needed');
      if (!c.projectName) out.push('a project (the trust domain) is needed');
    }
    return out;
  }

  private get identityUrl(): string {
    const base = this.credentials.authUrl.replace(/\/+$/, '');
    return /\/v3$/.test(base) ? base : `${base}/v3`;
  }

  /** The project the token is scoped to. */
  async projectId(): Promise<string> {
    return (await this.currentToken()).projectId;
  }

  /** The user the token is for. */
  async userId(): Promise<string> {
    return (await this.currentToken()).userId;
  }

  private async currentToken(): Promise<Token> {
    const t = this.token;
    if (t && t.expiresAt - Date.now() > 5 * 60_000) return t;
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async authenticate(): Promise<Token> {
    const c = this.credentials;
    const identity = c.applicationCredentialId
      ? {
          methods: ['application_credential'],
          application_credential: {
            id: c.applicationCredentialId,
            secret: c.applicationCredentialSecret,
          },
        }
      : {
          methods: ['password'],
          password: {
            user: {
              name: c.username,
              domain: { name: c.userDomainName ?? 'Default' },
              password: c.password,
            },
          },
        };
    const auth: Record<string, unknown> = { identity };
    if (!c.applicationCredentialId) {
      auth.scope = {
        project: { name: c.projectName, domain: { name: c.projectDomainName ?? 'Default' } },
      };
    }
    const res = await this.fetchOnce('identity', 'POST', `${this.identityUrl}/auth/tokens`, {
      body: { auth },
    });
    const body = (await res.json().catch(() => undefined)) as
      | {
          token?: {
            expires_at?: string;
            project?: { id?: string };
            user?: { id?: string };
            catalog?: Token['catalog'];
          };
        }
      | undefined;
    if (!res.ok) {
      throw new OpenStackError(
        `Keystone refused the credentials of ${c.applicationCredentialId ? `application credential ${c.applicationCredentialId}` : `user ${c.username ?? ''}`} (${String(res.status)}: ${messageOf(body) ?? res.statusText})`,
        res.status,
        'identity',
      );
    }
    const value = res.headers.get('x-subject-token');
    const token = body?.token;
    if (!value || !token?.expires_at || !token.project?.id || !Array.isArray(token.catalog)) {
      throw new OpenStackError(
        'Keystone answered a token without its id, expiry, project or catalog',
        res.status,
        'identity',
      );
    }
    this.token = {
      value,
      expiresAt: Date.parse(token.expires_at),
      projectId: token.project.id,
      userId: token.user?.id ?? '',
      catalog: token.catalog,
    };
    return this.token;
  }

  /** A service's endpoint in the session's region (its public one, as clients outside use). */
  async endpoint(type: ServiceType): Promise<string> {
    const t = await this.currentToken();
    const service = t.catalog.find((s) => s.type === type);
    const region = this.credentials.regionName;
    const ep = service?.endpoints.find(
      (e) => e.interface === 'public' && (!region || e.region_id === region),
    );
    if (!ep) {
      throw new OpenStackError(
        `the Keystone catalog has no public ${type} endpoint${region ? ` in region ${region}` : ''}`,
        undefined,
        type,
      );
    }
    return ep.url.replace(/\/+$/, '');
  }

  private async fetchOnce(
    service: ServiceType,
    method: string,
    url: string,
    options: RequestOptions,
    token?: string,
  ): Promise<Response> {
    if (requestListeners.size) {
      const sent = { service, method, path: new URL(url).pathname };
      for (const listener of requestListeners) listener(sent);
    }
    try {
      return await fetch(`${url}${queryString(options.query)}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { 'x-auth-token': token } : {}),
          ...options.headers,
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `did not answer within ${String(this.timeoutMs)} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new OpenStackError(
        `${service}: ${method} ${new URL(url).pathname}: ${why}`,
        undefined,
        service,
      );
    }
  }

  /**
   * A call to a service of the catalog: `path` after its endpoint. The parsed JSON answer (or
   * undefined for an empty one); a refusal throws OpenStackError.
   */
  async request<T>(
    service: ServiceType,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const retries = method === 'POST' ? 0 : 2;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.currentToken();
      const url = `${await this.endpoint(service)}${path}`;
      let res: Response;
      try {
        res = await this.fetchOnce(service, method, url, options, token.value);
      } catch (err) {
        if (attempt < retries) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        throw err;
      }
      if (res.status === 401 && !reauthenticated) {
        // Revoked or expired early: one new token, then the call again.
        reauthenticated = true;
        this.token = undefined;
        await res.body?.cancel();
        attempt--;
        continue;
      }
      if (RETRYABLE.has(res.status) && attempt < retries) {
        await res.body?.cancel();
        await sleep(200 * 2 ** attempt);
        continue;
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      if (!res.ok) {
        throw new OpenStackError(
          `${service}: ${method} ${path.split('?')[0] ?? path}: ${String(res.status)} ${messageOf(body) ?? res.statusText}`,
          res.status,
          service,
        );
      }
      if (text && (typeof body !== 'object' || body === null)) {
        throw new OpenStackError(
          `${service}: ${method} ${path}: the answer is not a JSON object`,
          res.status,
          service,
        );
      }
      // A crash test's point between two OpenStack writes.
      if (method !== 'GET') failpoint('openstack-write');
      return body as T;
    }
  }
}
