// Users and tokens from the command line and the environment: the first admin, `syncord user
// create`, `syncord token create`.
import type { ModelObject, ModelService } from '../models/service.js';
import { Authenticator, ROLES, type RoleName } from './auth.js';
import type { Registry } from '../models/registry.js';

/** The Role object of that name, made when missing. */
export async function roleNamed(models: ModelService, role: RoleName): Promise<ModelObject> {
  const page = await models.list('Role', { filter: [{ field: 'name', value: role }] });
  return (
    page.items[0] ??
    (await models.create('Role', {
      name: role,
      description: {
        admin: 'everything, users and tokens too',
        operator: 'reads and writes models',
        viewer: 'reads models',
      }[role],
    }))
  );
}

export async function createUser(
  models: ModelService,
  options: { name: string; password: string; role: RoleName; trustDomain?: string },
): Promise<ModelObject> {
  if (!(ROLES as readonly string[]).includes(options.role)) {
    throw new Error(`role ${options.role}: must be one of ${ROLES.join(', ')}`);
  }
  const role = await roleNamed(models, options.role);
  let trustDomainId: number | undefined;
  if (options.trustDomain) {
    const tds = await models.list('TrustDomain', {
      filter: [{ field: 'name', value: options.trustDomain }],
    });
    if (!tds.items[0]) throw new Error(`no trust domain named ${options.trustDomain}`);
    trustDomainId = tds.items[0].id;
  }
  return models.create('User', {
    name: options.name,
    password: options.password,
    role_id: role.id,
    ...(trustDomainId ? { trust_domain_id: trustDomainId } : {}),
  });
}

/**
 * The first admin, from SYNCORD_ADMIN_PASSWORD (and SYNCORD_ADMIN_USER, default `admin`), when
 * no admin exists yet. Returns what it did, for the log.
 */
export async function ensureFirstAdmin(
  models: ModelService,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const password = env.SYNCORD_ADMIN_PASSWORD;
  if (!password) return undefined;
  const role = await roleNamed(models, 'admin');
  const admins = await models.list('User', { filter: [{ field: 'role', value: role.id }] });
  if (admins.items.length) return undefined;
  const name = env.SYNCORD_ADMIN_USER ?? 'admin';
  await createUser(models, { name, password, role: 'admin' });
  return `created the first admin, ${name}, from SYNCORD_ADMIN_PASSWORD`;
}

/** A long-lived token for a user's scripts (ttlDays null: no expiry). */
export async function createToken(
  models: ModelService,
  registry: Registry,
  userName: string,
  ttlDays: number | null,
): Promise<{ token: string; expiresAt: string | null }> {
  const auth = new Authenticator(models, registry);
  const user = await auth.userByName(userName);
  if (!user) throw new Error(`no user named ${userName}`);
  return auth.issue(user.id, ttlDays === null ? null : ttlDays * 24 * 3600_000);
}
