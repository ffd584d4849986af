// Keystone from Debian's keystone (python3-keystone) under uwsgi, its database on the rig's
// MariaDB, fernet tokens with keys in the run directory. Bootstrapped once with the admin, the
// project admin and the region; every `rig up` then checks (and makes what is missing of) the
// project `service`, one user per service, and the catalog: public = internal = admin URLs.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { httpGet } from '../http.js';
import { run } from '../process.js';
import { get, post, request } from './openstack-api.js';
import {
  authUrl,
  dbUrl,
  debVersion,
  glanceUrl,
  keystoneUrl,
  logToStderr,
  neutronUrl,
  novaUrl,
  once,
  placementUrl,
  REGION,
  runLogged,
  SERVICE_USERS,
  secrets,
  serviceDir,
  serviceEnv,
  uwsgi,
  writeIni,
} from './openstack-base.js';

interface Named {
  id: string;
  name: string;
}
interface Service extends Named {
  type: string;
}
interface Endpoint {
  id: string;
  service_id: string;
  interface: string;
  url: string;
  region_id: string | null;
}

/** The catalog the rig's OpenStack publishes, besides Keystone's own entry from bootstrap. */
function catalog(ctx: RigContext): { name: string; type: string; url: string }[] {
  return [
    { name: 'glance', type: 'image', url: glanceUrl(ctx) },
    { name: 'placement', type: 'placement', url: placementUrl(ctx) },
    { name: 'nova', type: 'compute', url: novaUrl(ctx) },
    { name: 'neutron', type: 'network', url: neutronUrl(ctx) },
  ];
}

const INTERFACES = ['public', 'internal', 'admin'];

/**
 * The WSGI file uwsgi loads: Debian's /usr/bin/keystone-wsgi-public, plus Keystone's policy
 * enforcer built and loaded before uwsgi's threads take requests. Keystone builds it on the first
 * request that checks a policy, and not thread-safely: it publishes the oslo.policy Enforcer
 * before registering the rules in it, so the other first requests running at the same time (the
 * rig's catalog check sends five) can find no rule for their action and fail closed with 403
 * ("not authorized to perform the requested action: identity:list_projects"), or find no
 * `_warning_emitted` and die with a 500 that drops the connection. More likely on a busy machine.
 */
const WSGI_APP = `# Written by the rig (rig/components/keystone.ts).
import threading

from keystone.server.wsgi import initialize_public_application
from keystone.common.rbac_enforcer import policy

application = initialize_public_application()
enforcer = policy._ENFORCER._enforcer
# As in a request: one warning about deprecated rules, not one per rule.
enforcer.suppress_deprecation_warnings = True
enforcer.load_rules()
`;

async function keystoneManage(
  ctx: RigContext,
  conf: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
) {
  await runLogged(
    ctx,
    'keystone',
    'keystone-manage',
    ['--config-file', conf, ...args],
    serviceEnv(serviceDir(ctx, 'keystone'), env),
  );
}

/** Makes what is missing of the project `service`, the service users and the catalog. */
async function ensureCatalog(ctx: RigContext): Promise<void> {
  const v3 = authUrl(ctx);
  const pw = secrets(ctx).users;
  // Everything there is, read at once (Keystone takes a few hundred ms per request).
  const [projects, roles, users, services, endpoints] = await Promise.all([
    get<{ projects: Named[] }>(ctx, `${v3}/projects?name=service`).then((r) => r.projects),
    get<{ roles: Named[] }>(ctx, `${v3}/roles`).then((r) => r.roles),
    get<{ users: Named[] }>(ctx, `${v3}/users`).then((r) => r.users),
    get<{ services: Service[] }>(ctx, `${v3}/services`).then((r) => r.services),
    get<{ endpoints: Endpoint[] }>(ctx, `${v3}/endpoints`).then((r) => r.endpoints),
  ]);

  const project =
    projects[0] ??
    (
      await post<{ project: Named }>(ctx, `${v3}/projects`, {
        project: { name: 'service', domain_id: 'default', description: 'OpenStack services' },
      })
    ).project;
  const serviceRoles: Named[] = [];
  for (const name of ['admin', 'service']) {
    serviceRoles.push(
      roles.find((r) => r.name === name) ??
        (await post<{ role: Named }>(ctx, `${v3}/roles`, { role: { name } })).role,
    );
  }
  const assignments = (
    await get<{ role_assignments: { user?: { id: string }; role: { id: string } }[] }>(
      ctx,
      `${v3}/role_assignments?scope.project.id=${project.id}`,
    )
  ).role_assignments;
  for (const name of SERVICE_USERS) {
    const user =
      users.find((u) => u.name === name) ??
      (
        await post<{ user: Named }>(ctx, `${v3}/users`, {
          user: { name, domain_id: 'default', password: pw[name], enabled: true },
        })
      ).user;
    for (const role of serviceRoles) {
      const has = assignments.some((a) => a.user?.id === user.id && a.role.id === role.id);
      if (!has) {
        await request(ctx, 'PUT', `${v3}/projects/${project.id}/users/${user.id}/roles/${role.id}`);
      }
    }
  }

  for (const entry of catalog(ctx)) {
    const service =
      services.find((s) => s.type === entry.type) ??
      (
        await post<{ service: Service }>(ctx, `${v3}/services`, {
          service: { name: entry.name, type: entry.type, enabled: true },
        })
      ).service;
    for (const iface of INTERFACES) {
      const current = endpoints.find((e) => e.service_id === service.id && e.interface === iface);
      if (!current) {
        await post(ctx, `${v3}/endpoints`, {
          endpoint: { service_id: service.id, interface: iface, url: entry.url, region_id: REGION },
        });
      } else if (current.url !== entry.url) {
        // The same run directory under another port base.
        await request(ctx, 'PATCH', `${v3}/endpoints/${current.id}`, {
          body: { endpoint: { url: entry.url } },
        });
      }
    }
  }
}

export const keystone: Component = {
  name: 'keystone',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.keystone,

  async prepare(ctx) {
    const dir = serviceDir(ctx, 'keystone');
    const fernet = join(dir, 'fernet-keys');
    const credential = join(dir, 'credential-keys');
    mkdirSync(fernet, { recursive: true, mode: 0o700 });
    mkdirSync(credential, { recursive: true, mode: 0o700 });
    const conf = join(dir, 'keystone.conf');
    writeIni(conf, {
      DEFAULT: { ...logToStderr },
      database: { connection: dbUrl(ctx, 'keystone') },
      token: { provider: 'fernet' },
      fernet_tokens: { key_repository: fernet },
      fernet_receipts: { key_repository: fernet },
      credential: { key_repository: credential },
      // An in-process cache (uwsgi runs one Keystone process): every service validates every
      // request's token here, and each uncached validation costs a few hundred milliseconds.
      cache: { enabled: true, backend: 'oslo_cache.dict', expiration_time: 600 },
    });
    await once(ctx, 'keystone-db', async () => {
      await keystoneManage(ctx, conf, ['db_sync']);
    });
    // Keys belong to the user that runs Keystone: the rig's.
    const user = userInfo().username;
    const group = (await run('id', ['-gn'])).trim();
    if (readdirSync(fernet).length === 0) {
      await keystoneManage(ctx, conf, [
        'fernet_setup',
        '--keystone-user',
        user,
        '--keystone-group',
        group,
      ]);
    }
    if (readdirSync(credential).length === 0) {
      await keystoneManage(ctx, conf, [
        'credential_setup',
        '--keystone-user',
        user,
        '--keystone-group',
        group,
      ]);
    }
    await once(ctx, 'keystone-bootstrap', async () => {
      const url = `${keystoneUrl(ctx)}/v3/`;
      const args = [
        'bootstrap',
        '--bootstrap-username',
        'admin',
        '--bootstrap-project-name',
        'admin',
        '--bootstrap-role-name',
        'admin',
        '--bootstrap-region-id',
        REGION,
        '--bootstrap-admin-url',
        url,
        '--bootstrap-internal-url',
        url,
        '--bootstrap-public-url',
        url,
      ];
      // The password through the environment, not the command line.
      await keystoneManage(ctx, conf, args, { OS_BOOTSTRAP_PASSWORD: secrets(ctx).admin });
    });
    const app = join(dir, 'keystone-wsgi.py');
    writeFileSync(app, WSGI_APP);
    return uwsgi(
      ctx,
      'keystone',
      ctx.config.ports.keystone,
      app,
      serviceEnv(dir, { OS_KEYSTONE_CONFIG_DIR: dir }),
    );
  },

  async ready(ctx) {
    const res = await httpGet(authUrl(ctx));
    return res.status === 200 && res.body.includes('"v3.');
  },

  afterReady: ensureCatalog,

  version: () => debVersion('keystone'),
};
