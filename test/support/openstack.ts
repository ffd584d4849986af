// The rig's OpenStack, for tests: its admin credentials (the OS_* exports of `rig/rig env`), or
// undefined when the rig runs without OpenStack (the tests then skip, saying so).
import { Session } from '../../backends/openstack/client.js';
import { Keystone, Neutron, Nova } from '../../backends/openstack/resources.js';
import { eventually } from './rig.js';
import { loadConfig } from '../../rig/config.js';
import { readEnv } from '../../rig/control.js';

const OS_KEYS = [
  'OS_AUTH_URL',
  'OS_USERNAME',
  'OS_PASSWORD',
  'OS_PROJECT_NAME',
  'OS_USER_DOMAIN_NAME',
  'OS_PROJECT_DOMAIN_NAME',
  'OS_REGION_NAME',
  'OS_IDENTITY_API_VERSION',
] as const;
export type OsEnv = Record<(typeof OS_KEYS)[number], string>;

/** The OS_* exports of the running rig, or undefined when it runs without OpenStack. */
export function openstackEnv(): OsEnv | undefined {
  const env = readEnv(loadConfig());
  if (!env?.OS_AUTH_URL) return undefined;
  const picked = {} as OsEnv;
  for (const key of OS_KEYS) {
    const value = env[key];
    if (!value) throw new Error(`the rig exports OS_AUTH_URL but not ${key}`);
    picked[key] = value;
  }
  return picked;
}

/** The admin's session (scoped to the admin project). */
export function adminSession(env: OsEnv): Session {
  return new Session({
    authUrl: env.OS_AUTH_URL,
    regionName: env.OS_REGION_NAME,
    username: env.OS_USERNAME,
    password: env.OS_PASSWORD,
    userDomainName: env.OS_USER_DOMAIN_NAME,
    projectName: env.OS_PROJECT_NAME,
    projectDomainName: env.OS_PROJECT_DOMAIN_NAME,
  });
}

/** A Cluster of kind openstack with the rig's admin credentials (fields for svc.create). */
export function clusterFields(env: OsEnv, name: string): Record<string, unknown> {
  return {
    name,
    kind: 'openstack',
    auth_url: env.OS_AUTH_URL,
    region_name: env.OS_REGION_NAME,
    username: env.OS_USERNAME,
    password: env.OS_PASSWORD,
    user_domain_name: env.OS_USER_DOMAIN_NAME,
    project_name: env.OS_PROJECT_NAME,
    project_domain_name: env.OS_PROJECT_DOMAIN_NAME,
  };
}

/**
 * The rig's OpenStack for a suite's `before`, or the suite skipped with the reason on stderr
 * when the rig runs without it.
 */
export function openstackOrSkip(ctx: Mocha.Context, suite: string): OsEnv {
  const env = openstackEnv();
  if (!env) {
    process.stderr.write(
      `[test] ${suite}: skipped: the rig runs without OpenStack (start it with rig/rig up --with openstack)\n`,
    );
    ctx.skip();
  }
  return env;
}

/**
 * Removes whatever a deployment (SYNCORD_INSTANCE) left in OpenStack, by its tag: servers (and
 * waits for Nova to delete them), then ports, networks and Keystone projects.
 */
export async function purgeOpenStack(admin: Session, instance: string): Promise<void> {
  const tag = `syncord-instance=${instance}`;
  const nova = new Nova(admin);
  const neutron = new Neutron(admin);
  const keystone = new Keystone(admin);
  for (const s of await nova.servers({ tags: tag, all_tenants: true }))
    await nova.deleteServer(s.id);
  await eventually(
    'servers gone',
    async () => ((await nova.servers({ tags: tag, all_tenants: true })).length ? undefined : true),
    60_000,
  ).catch(() => undefined);
  for (const p of await neutron.ports({ tags: tag })) await neutron.deletePort(p.id);
  for (const n of await neutron.networks({ tags: tag })) await neutron.deleteNetwork(n.id);
  for (const p of await keystone.projects({ tags: tag })) await keystone.deleteProject(p.id);
}
