// Who is calling, and what they may do.
//
// Authentication: a bearer token in the `authorization` metadata (a token's check is reused for
// 5 s: one revoked through another replica stops working within that). Login (user name and password,
// checked against the scrypt hash the model layer keeps) issues one for a day; `syncord token
// create` issues long-lived ones for scripts. Tokens are 32 random bytes; only their SHA-256 is
// stored (ApiToken.token_hash), so a database dump gives no usable token.
//
// Authorization: the user's Role (admin, operator, viewer) on every call, and the user's trust
// domain when it has one:
// - viewers read; operators read and write; admins also manage users, roles and tokens (which
//   no one else may read);
// - a user limited to a trust domain sees the objects of that trust domain and the shared ones
//   (those that belong to no trust domain: sites, services, images, ...), and writes only objects
//   of its trust domain alone (never a trust domain itself, nor an object that also belongs to
//   another). An object belongs to the trust domains its references lead to (a Network through
//   its owner Slice, a Port through its instance's slice, ...).
import { createHash, randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { NotFoundError } from '../models/errors.js';
import type { Registry } from '../models/registry.js';
import type { ModelObject, ModelService } from '../models/service.js';
import { columnOf } from '../models/schema.js';

export type RoleName = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly RoleName[] = ['admin', 'operator', 'viewer'];

/** Models only admins may read or write. */
export const ADMIN_MODELS = new Set(['User', 'Role', 'ApiToken']);

export interface Principal {
  userId: number;
  name: string;
  role: RoleName;
  trustDomainId: number | null;
  tokenId: number;
}

/** A refused call: 'unauthenticated' (who are you?) or 'denied' (not for you). */
export class AuthError extends Error {
  constructor(
    readonly kind: 'unauthenticated' | 'denied',
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Referenced objects read by the visibility checks of one call, by `<model>:<id>`. */
export type VisibilityMemo = Map<string, Promise<ModelObject | undefined>>;

export const hashToken = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

export const LOGIN_TTL_MS = 24 * 3600_000;

/** How long a token's check is reused (a token revoked elsewhere stops working after this). */
export const TOKEN_CACHE_MS = 5000;

export class Authenticator {
  /** Tokens checked lately, by hash: their caller and until when the check holds. */
  private readonly checked = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly models: ModelService,
    private readonly registry: Registry,
  ) {}

  /** A new token for the user (expiring after ttlMs, or never with null); shown once. */
  async issue(
    userId: number,
    ttlMs: number | null,
  ): Promise<{ token: string; expiresAt: string | null }> {
    const token = `syn_${randomBytes(32).toString('base64url')}`;
    const expiresAt = ttlMs === null ? null : new Date(Date.now() + ttlMs).toISOString();
    await this.models.create('ApiToken', {
      name: `token-${randomBytes(6).toString('hex')}`,
      user_id: userId,
      token_hash: hashToken(token),
      expires_at: expiresAt,
    });
    return { token, expiresAt };
  }

  async userByName(name: string): Promise<ModelObject | undefined> {
    const page = await this.models.list('User', { filter: [{ field: 'name', value: name }] });
    return page.items[0];
  }

  /** Checks a user name and password; a token for a day. The same error for any mismatch. */
  async login(
    name: string,
    password: string,
  ): Promise<{ token: string; expiresAt: string | null; principal: Principal }> {
    const refused = new AuthError('unauthenticated', 'wrong user name or password');
    const user = await this.userByName(name);
    if (!user || user.is_active === false) throw refused;
    if (!(await this.models.checkPassword('User', user.id, 'password', password))) throw refused;
    const issued = await this.issue(user.id, LOGIN_TTL_MS);
    const principal = await this.principalOf(user, 0);
    const token = await this.tokenRow(issued.token);
    return { ...issued, principal: { ...principal, tokenId: token?.id ?? 0 } };
  }

  private async tokenRow(token: string): Promise<ModelObject | undefined> {
    const page = await this.models.list('ApiToken', {
      filter: [{ field: 'token_hash', value: hashToken(token) }],
    });
    return page.items[0];
  }

  private async principalOf(user: ModelObject, tokenId: number): Promise<Principal> {
    let role: RoleName = 'viewer';
    if (typeof user.role_id === 'number') {
      const r = await this.models.get('Role', user.role_id).catch(() => undefined);
      if (r && (ROLES as readonly string[]).includes(String(r.name))) role = r.name as RoleName;
    }
    return {
      userId: user.id,
      name: String(user.name),
      role,
      trustDomainId: typeof user.trust_domain_id === 'number' ? user.trust_domain_id : null,
      tokenId,
    };
  }

  /** The caller of a call, from its `authorization: Bearer <token>` metadata. */
  async authenticate(metadata: grpc.Metadata): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    const text = typeof header === 'string' ? header : header?.toString('utf8');
    const m = text ? /^Bearer\s+(\S+)$/i.exec(text) : null;
    if (!m) {
      throw new AuthError(
        'unauthenticated',
        'no bearer token: send "authorization: Bearer <token>" (Login gives one)',
      );
    }
    const hash = hashToken(m[1]!);
    const hit = this.checked.get(hash);
    if (hit && hit.until > Date.now()) return hit.principal;
    const row = await this.tokenRow(m[1]!);
    if (!row)
      throw new AuthError('unauthenticated', 'the token is not valid (revoked or never issued)');
    if (typeof row.expires_at === 'string' && Date.parse(row.expires_at) <= Date.now()) {
      throw new AuthError('unauthenticated', `the token expired at ${row.expires_at}`);
    }
    let user: ModelObject;
    try {
      user = await this.models.get('User', row.user_id as number);
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new AuthError('unauthenticated', "the token's user is gone");
      throw err;
    }
    if (user.is_active === false)
      throw new AuthError('unauthenticated', `user ${String(user.name)} is not active`);
    const principal = await this.principalOf(user, row.id);
    const expires = typeof row.expires_at === 'string' ? Date.parse(row.expires_at) : Infinity;
    if (this.checked.size > 10_000) this.checked.clear();
    this.checked.set(hash, { principal, until: Math.min(Date.now() + TOKEN_CACHE_MS, expires) });
    return principal;
  }

  async logout(principal: Principal): Promise<void> {
    for (const [hash, c] of this.checked) {
      if (c.principal.tokenId === principal.tokenId) this.checked.delete(hash);
    }
    if (principal.tokenId)
      await this.models.delete('ApiToken', principal.tokenId).catch(() => undefined);
  }

  /**
   * Forgets every cached check: a user, role or token was changed through this replica, so a
   * token it revoked (or a user it deactivated) stops here at once; other replicas follow
   * within TOKEN_CACHE_MS.
   */
  forgetChecks(): void {
    this.checked.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Authorization

  /** Refuses a read of a model the role may not read. */
  checkRead(p: Principal, model: string): void {
    if (ADMIN_MODELS.has(model) && p.role !== 'admin') {
      throw new AuthError('denied', `role ${p.role} may not read ${model} objects (admins only)`);
    }
  }

  /** Refuses a write of a model the role may not write. */
  checkWrite(p: Principal, model: string): void {
    if (p.role === 'viewer')
      throw new AuthError('denied', `role viewer may not change ${model} objects`);
    if (ADMIN_MODELS.has(model) && p.role !== 'admin') {
      throw new AuthError('denied', `role ${p.role} may not change ${model} objects (admins only)`);
    }
  }

  /** Whether the caller sees every object (no trust domain limits it). */
  seesAll(p: Principal): boolean {
    return p.trustDomainId === null || p.role === 'admin';
  }

  /**
   * Whether a scoped caller may see this object (its trust domain's, or shared). A `memo` shared
   * by the checks of one call reads each referenced object once.
   */
  async visible(
    p: Principal,
    model: string,
    obj: Record<string, unknown>,
    memo?: VisibilityMemo,
  ): Promise<boolean> {
    if (p.trustDomainId === null || p.role === 'admin') return true;
    const tds = await this.trustDomainsOf(model, obj, memo);
    return tds.size === 0 || tds.has(p.trustDomainId);
  }

  /**
   * Refuses a write by a scoped caller of an object that is not its trust domain's alone: a
   * shared object, another trust domain's, one that links its trust domain to another (a
   * NetworkSlice of its network in another's slice), or a trust domain itself (the boundary
   * its users are kept in is set by those who see every trust domain).
   */
  async checkScope(p: Principal, model: string, obj: Record<string, unknown>): Promise<void> {
    if (p.trustDomainId === null || p.role === 'admin') return;
    if (this.registry.get('TrustDomain').family.includes(model)) {
      throw new AuthError(
        'denied',
        'trust domains are changed only by an operator of every trust domain or an admin',
      );
    }
    const tds = await this.trustDomainsOf(model, obj);
    if (tds.size === 0) {
      throw new AuthError(
        'denied',
        `${model} objects of no trust domain are shared: only an operator of every trust domain or an admin may change them`,
      );
    }
    const others = [...tds].filter((td) => td !== p.trustDomainId);
    if (others.length) {
      throw new AuthError(
        'denied',
        `this ${model} belongs to trust domain ${[...tds].join(', ')}, not to yours (${String(p.trustDomainId)}) alone`,
      );
    }
  }

  /** The trust domains an object's references lead to (depth 4). */
  async trustDomainsOf(
    model: string,
    obj: Record<string, unknown>,
    memo?: VisibilityMemo,
  ): Promise<Set<number>> {
    const out = new Set<number>();
    const tdFamily = this.registry.get('TrustDomain').family;
    if (tdFamily.includes(model) && typeof obj.id === 'number') out.add(obj.id);
    let frontier: { model: string; obj: Record<string, unknown> }[] = [{ model, obj }];
    const seen = new Set<string>();
    for (let depth = 0; depth < 4 && frontier.length; depth++) {
      const next: typeof frontier = [];
      for (const f of frontier) {
        if (!this.registry.has(f.model)) continue;
        for (const [field, def] of Object.entries(this.registry.get(f.model).allFields)) {
          if (def.type !== 'reference' || !def.reference) continue;
          const id = f.obj[columnOf(field, def)];
          if (typeof id !== 'number') continue;
          if (tdFamily.includes(def.reference.model)) {
            out.add(id);
            continue;
          }
          const key = `${def.reference.model}:${String(id)}`;
          if (seen.has(key) || ADMIN_MODELS.has(def.reference.model)) continue;
          seen.add(key);
          let reading = memo?.get(key);
          if (!reading) {
            reading = this.models
              .get(def.reference.model, id, { includeDeleted: true })
              .catch(() => undefined);
            memo?.set(key, reading);
          }
          const ref = await reading;
          if (ref) next.push({ model: ref.leaf_model, obj: ref });
        }
      }
      frontier = next;
    }
    return out;
  }
}
