// Two tenants for authorization tests: a service, a site, trust domains td-a and td-b, a slice in
// each (a, b) and a network in each (net-a 10.1.0.0/24, net-b 10.2.0.0/24).
import type { ModelObject, ModelService } from '../../models/service.js';

export interface TwoTenants {
  owner: ModelObject;
  site: ModelObject;
  tdA: ModelObject;
  tdB: ModelObject;
  sliceA: ModelObject;
  sliceB: ModelObject;
  netA: ModelObject;
  netB: ModelObject;
}

export async function twoTenants(
  svc: ModelService,
  options: { ownerModel?: string; siteName?: string; netA?: Record<string, unknown> } = {},
): Promise<TwoTenants> {
  const owner = await svc.create(options.ownerModel ?? 'Service', {
    name: 'owner',
    ...(options.ownerModel === 'VNFService' ? { vendor: 'acme' } : {}),
  });
  const site = await svc.create('Site', { name: options.siteName ?? 'site' });
  const tdA = await svc.create('TrustDomain', { name: 'td-a', owner_id: owner.id });
  const tdB = await svc.create('TrustDomain', { name: 'td-b', owner_id: owner.id });
  const sliceA = await svc.create('Slice', {
    name: 'a',
    site_id: site.id,
    trust_domain_id: tdA.id,
  });
  const sliceB = await svc.create('Slice', {
    name: 'b',
    site_id: site.id,
    trust_domain_id: tdB.id,
  });
  const netA = await svc.create('Network', {
    name: 'net-a',
    subnet: '10.1.0.0/24',
    owner_id: sliceA.id,
    ...options.netA,
  });
  const netB = await svc.create('Network', {
    name: 'net-b',
    subnet: '10.2.0.0/24',
    owner_id: sliceB.id,
  });
  return { owner, site, tdA, tdB, sliceA, sliceB, netA, netB };
}

/**
 * Users for authorization tests: each [name, role name, trust domain id or none], all with the
 * same password; each role made once. The users' ids by name.
 */
export async function usersWithRoles(
  svc: ModelService,
  users: readonly (readonly [string, 'admin' | 'operator' | 'viewer', number | undefined])[],
  password: string,
): Promise<Map<string, number>> {
  const roles = new Map<string, number>();
  const ids = new Map<string, number>();
  for (const [name, role, td] of users) {
    let roleId = roles.get(role);
    if (roleId === undefined) {
      roleId = (await svc.create('Role', { name: role })).id;
      roles.set(role, roleId);
    }
    const user = await svc.create('User', {
      name,
      password,
      role_id: roleId,
      ...(td !== undefined ? { trust_domain_id: td } : {}),
    });
    ids.set(name, user.id);
  }
  return ids;
}
