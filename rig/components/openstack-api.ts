// The OpenStack REST calls the rig makes while it sets OpenStack up and probes it: a Keystone v3
// token for the admin (kept until shortly before it expires), then plain JSON requests.
import type { RigContext } from '../component.js';
import { adminPassword, authUrl } from './openstack-base.js';

export class OpenStackHttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${url}: HTTP ${status} ${body.replace(/\s+/g, ' ').slice(0, 300)}`);
    this.name = 'OpenStackHttpError';
  }
}

const tokens = new Map<string, { value: string; expiresAt: number }>();
const pending = new Map<string, Promise<string>>();

/**
 * A project-scoped token of Keystone's admin (project admin, domain Default). Callers that ask at
 * the same time share one request: each costs Keystone a bcrypt check (over a second when busy).
 */
export async function adminToken(ctx: RigContext): Promise<string> {
  const url = `${authUrl(ctx)}/auth/tokens`;
  const cached = tokens.get(url);
  if (cached && cached.expiresAt > Date.now() + 60_000) return cached.value;
  let asked = pending.get(url);
  if (!asked) {
    asked = newAdminToken(ctx, url).finally(() => pending.delete(url));
    pending.set(url, asked);
  }
  return asked;
}

async function newAdminToken(ctx: RigContext, url: string): Promise<string> {
  const password = adminPassword(ctx);
  if (!password) throw new Error('this rig has no OpenStack (no openstack/secrets.json)');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const value = res.headers.get('x-subject-token');
  if (res.status !== 201 || !value) throw new OpenStackHttpError('POST', url, res.status, text);
  const body = JSON.parse(text) as { token: { expires_at: string } };
  tokens.set(url, { value, expiresAt: Date.parse(body.token.expires_at) });
  return value;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw bytes instead of JSON (Glance's image upload). */
  data?: Buffer;
  /** Statuses other than 2xx that the caller handles (404 for "not there yet"). */
  allow?: number[];
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One authenticated request; resolves with the status and the parsed JSON body (if any). */
export async function request(
  ctx: RigContext,
  method: string,
  url: string,
  options: RequestOptions = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {
    'X-Auth-Token': await adminToken(ctx),
    Accept: 'application/json',
    ...options.headers,
  };
  let payload: string | Buffer | undefined;
  if (options.data) {
    headers['Content-Type'] = 'application/octet-stream';
    payload = options.data;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(options.body);
  }
  const res = await fetch(url, {
    method,
    headers,
    body: payload,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  if (!res.ok && !(options.allow ?? []).includes(res.status)) {
    throw new OpenStackHttpError(method, url, res.status, text);
  }
  let body: unknown = undefined;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body };
}

/** GET url: the JSON body, of the shape the caller expects of this OpenStack API. */
export async function get<T>(ctx: RigContext, url: string): Promise<T> {
  return (await request(ctx, 'GET', url)).body as T;
}

/** POST body to url: the JSON answer, of the shape the caller expects. */
export async function post<T>(ctx: RigContext, url: string, body: unknown): Promise<T> {
  return (await request(ctx, 'POST', url, { body })).body as T;
}
