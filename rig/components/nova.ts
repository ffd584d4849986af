// Nova from Debian's packages: nova-api (uwsgi), nova-conductor, nova-scheduler and nova-compute
// with Nova's fake virt driver (servers go ACTIVE without a hypervisor), databases on the rig's
// MariaDB, RPC over the rig's RabbitMQ. One cell (cell1) besides cell0; the compute host is
// mapped into it once it has reported; flavors m1.tiny and m1.small.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { httpGet } from '../http.js';
import { run, sleep } from '../process.js';
import type { DaemonSpec } from '../process.js';
import { get, post, request } from './openstack-api.js';
import {
  authtoken,
  COMPUTE_HOST,
  CONTROL_HOST,
  dbUrl,
  debVersion,
  logToStderr,
  novaUrl,
  once,
  placementUrl,
  runLogged,
  serviceAuth,
  serviceDir,
  serviceEnv,
  transportUrl,
  uwsgi,
  writeIni,
  type IniSection,
} from './openstack-base.js';

export const FLAVORS = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
];

/** Nova's fake driver with room for many servers (SmallFakeDriver has 1 vCPU). */
const COMPUTE_DRIVER = 'fake.FakeDriver';

interface NovaFiles {
  dir: string;
  /** The controllers' configuration (nova-api, conductor, scheduler, nova-manage). */
  conf: string;
  /** nova-compute's: no database access, its own host name, the fake driver. */
  computeConf: string;
  env: NodeJS.ProcessEnv;
}

function novaFiles(ctx: RigContext): NovaFiles {
  const dir = serviceDir(ctx, 'nova');
  return {
    dir,
    conf: join(dir, 'nova.conf'),
    computeConf: join(dir, 'nova-compute.conf'),
    env: serviceEnv(dir, { OS_NOVA_CONFIG_DIR: dir }),
  };
}

function writeConfig(ctx: RigContext): NovaFiles {
  const files = novaFiles(ctx);
  const dir = files.dir;
  const paste = join(dir, 'api-paste.ini');
  copyFileSync('/etc/nova/api-paste.ini', paste);
  const common = (host: string): Record<string, IniSection> => ({
    DEFAULT: {
      ...logToStderr,
      host,
      transport_url: transportUrl(ctx),
      my_ip: '127.0.0.1',
      state_path: join(dir, 'state'),
      instances_path: join(dir, 'instances'),
      enabled_apis: 'osapi_compute',
      osapi_compute_workers: 1,
    },
    keystone_authtoken: authtoken(ctx, 'nova'),
    service_user: { send_service_user_token: true, ...serviceAuth(ctx, 'nova') },
    placement: serviceAuth(ctx, 'placement'),
    neutron: serviceAuth(ctx, 'neutron'),
    oslo_concurrency: { lock_path: join(dir, 'lock') },
    // No AMQP heartbeats: under uwsgi nova-api's heartbeat does not run while it is idle, so
    // RabbitMQ dropped its connections and the next request's reconnect could take longer than a
    // client's 30 s (seen in CI: a POST /servers that never answered, the server left in BUILD).
    // On one machine over 127.0.0.1 there is nothing for heartbeats to detect.
    oslo_messaging_rabbit: { heartbeat_timeout_threshold: 0 },
    vnc: { enabled: false },
    wsgi: { api_paste_config: paste },
  });
  const controller = common(CONTROL_HOST);
  writeIni(files.conf, {
    ...controller,
    api_database: { connection: dbUrl(ctx, 'nova_api') },
    database: { connection: dbUrl(ctx, 'nova') },
    conductor: { workers: 1 },
    // The rig maps its one compute host itself, right after it has reported.
    scheduler: { workers: 1, discover_hosts_in_cells_interval: -1 },
  });
  const compute = common(COMPUTE_HOST);
  writeIni(files.computeConf, {
    ...compute,
    DEFAULT: { ...compute.DEFAULT, compute_driver: COMPUTE_DRIVER },
  });
  return files;
}

async function novaManage(ctx: RigContext, files: NovaFiles, args: string[]) {
  await runLogged(
    ctx,
    'nova-api',
    'nova-manage',
    ['--config-file', files.conf, ...args],
    files.env,
  );
}

/** Schemas of the API database and both cells, and the cells themselves. */
async function setUpDatabases(ctx: RigContext, files: NovaFiles) {
  await once(ctx, 'nova-db', async () => {
    await novaManage(ctx, files, ['api_db', 'sync']);
    await novaManage(ctx, files, ['cell_v2', 'map_cell0']);
    const cells = await run('nova-manage', ['--config-file', files.conf, 'cell_v2', 'list_cells'], {
      env: files.env,
    });
    if (!/\|\s*cell1\s*\|/.test(cells)) {
      await novaManage(ctx, files, ['cell_v2', 'create_cell', '--name', 'cell1']);
    }
    await novaManage(ctx, files, ['db', 'sync']);
  });
}

async function ensureFlavors(ctx: RigContext) {
  for (const f of FLAVORS) {
    const { status } = await request(ctx, 'GET', `${novaUrl(ctx)}/flavors/${f.id}`, {
      allow: [404],
    });
    if (status === 404) await post(ctx, `${novaUrl(ctx)}/flavors`, { flavor: f });
  }
}

interface NovaService {
  binary: string;
  host: string;
  state: string;
  status: string;
}

/** Whether Nova lists the service as up (it has reported within service_down_time). */
async function serviceUp(ctx: RigContext, binary: string, host: string): Promise<boolean> {
  const { services } = await get<{ services: NovaService[] }>(
    ctx,
    `${novaUrl(ctx)}/os-services?binary=${binary}&host=${host}`,
  );
  const s = services[0];
  if (!s) throw new Error(`${binary} on ${host} has not registered with Nova yet`);
  if (s.state !== 'up') throw new Error(`Nova lists ${binary} on ${host} as ${s.state}`);
  return true;
}

async function hypervisorListed(ctx: RigContext): Promise<boolean> {
  const { hypervisors } = await get<{ hypervisors: { hypervisor_hostname: string }[] }>(
    ctx,
    `${novaUrl(ctx)}/os-hypervisors`,
  );
  return hypervisors.some((h) => h.hypervisor_hostname === COMPUTE_HOST);
}

/**
 * Maps the compute host into cell1 (nova-manage cell_v2 discover_hosts) once nova-compute has
 * reported its node, which shows as its resource provider in Placement. Nova's API lists the
 * hypervisor only once the host is mapped: then there is nothing to do.
 */
async function mapComputeHost(ctx: RigContext) {
  if (await hypervisorListed(ctx)) return;
  const files = novaFiles(ctx);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { resource_providers: found } = await get<{ resource_providers: unknown[] }>(
      ctx,
      `${placementUrl(ctx)}/resource_providers?name=${COMPUTE_HOST}`,
    );
    if (found.length) break;
    if (Date.now() > deadline) {
      throw new Error(`nova-compute has not reported its node ${COMPUTE_HOST} after 60s`);
    }
    await sleep(500);
  }
  await runLogged(
    ctx,
    'nova-compute',
    'nova-manage',
    ['--config-file', files.conf, 'cell_v2', 'discover_hosts', '--verbose'],
    files.env,
  );
  if (!(await hypervisorListed(ctx))) {
    throw new Error(`Nova does not list the hypervisor ${COMPUTE_HOST} after discover_hosts`);
  }
}

function daemon(ctx: RigContext, name: string, files: NovaFiles, conf: string): DaemonSpec {
  return {
    command: name,
    args: ['--config-file', conf],
    env: files.env,
    cwd: files.dir,
    logFile: ctx.logFile(name),
  };
}

export const novaApi: Component = {
  name: 'nova-api',
  readyTimeoutMs: 120_000,
  port: (ctx) => ctx.config.ports.novaApi,
  async prepare(ctx) {
    const files = writeConfig(ctx);
    await setUpDatabases(ctx, files);
    return uwsgi(ctx, 'nova-api', ctx.config.ports.novaApi, '/usr/bin/nova-api-wsgi', files.env);
  },
  async ready(ctx) {
    const res = await httpGet(`${novaUrl(ctx).replace(/\/v2\.1$/, '')}/`);
    return res.status === 200 && res.body.includes('"versions"');
  },
  afterReady: ensureFlavors,
  version: () => debVersion('nova-api'),
};

function novaDaemon(name: 'nova-conductor' | 'nova-scheduler' | 'nova-compute'): Component {
  const host = name === 'nova-compute' ? COMPUTE_HOST : CONTROL_HOST;
  return {
    name,
    readyTimeoutMs: 120_000,
    // They serve no port: RPC over RabbitMQ only.
    port: () => 0,
    prepare(ctx) {
      const files = writeConfig(ctx);
      const conf = name === 'nova-compute' ? files.computeConf : files.conf;
      return Promise.resolve(daemon(ctx, name, files, conf));
    },
    ready: (ctx) => serviceUp(ctx, name, host),
    afterReady: name === 'nova-compute' ? mapComputeHost : undefined,
    version: () => debVersion(name),
  };
}

export const novaConductor = novaDaemon('nova-conductor');
export const novaScheduler = novaDaemon('nova-scheduler');
export const novaCompute = novaDaemon('nova-compute');
