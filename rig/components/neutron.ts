// Neutron from Debian's neutron-server with ML2/OVN on the rig's own OVN central: networks and
// ports become logical switches and logical switch ports in the rig's northbound database. No L3
// agent (OVN routes), no DHCP agent (OVN's native DHCP), no metadata agent.
//
// Binding a port to a host needs an OVN chassis of that host name in the southbound database:
// the rig has no ovn-controller (and no hypervisor), so it registers the chassis of its compute
// host itself (ovn-sbctl chassis-add, plus the Chassis_Private row that ovn-controller would
// write). Neutron counts a chassis alive while its heartbeat is younger than agent_down_time;
// with no ovn-controller answering, that is set to a year.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { httpGet } from '../http.js';
import { run, sleep } from '../process.js';
import { ovnNbRemote, ovnSbRemote } from './ovn.js';
import { get } from './openstack-api.js';
import {
  authtoken,
  COMPUTE_HOST,
  dbUrl,
  debVersion,
  logToStderr,
  neutronUrl,
  once,
  runLogged,
  serviceAuth,
  serviceDir,
  serviceEnv,
  transportUrl,
  writeIni,
} from './openstack-base.js';

const AGENT_DOWN_TIME = 365 * 24 * 3600;

function files(ctx: RigContext) {
  const dir = serviceDir(ctx, 'neutron');
  return {
    dir,
    conf: join(dir, 'neutron.conf'),
    ml2: join(dir, 'ml2_conf.ini'),
    env: serviceEnv(dir),
  };
}

const sbctl = (ctx: RigContext, args: string[]) =>
  run('ovn-sbctl', [`--db=${ovnSbRemote(ctx)}`, ...args]);

/** The chassis of the compute host, as ovn-controller would register it (once). */
async function registerChassis(ctx: RigContext): Promise<void> {
  const chassis = (
    await sbctl(ctx, ['--bare', '--columns=_uuid', 'find', 'Chassis', `name=${COMPUTE_HOST}`])
  ).trim();
  if (!chassis) {
    await sbctl(ctx, ['chassis-add', COMPUTE_HOST, 'geneve', '127.0.0.1']);
    await sbctl(ctx, ['set', 'Chassis', COMPUTE_HOST, `hostname=${COMPUTE_HOST}`]);
  }
  const priv = (
    await sbctl(ctx, [
      '--bare',
      '--columns=_uuid',
      'find',
      'Chassis_Private',
      `name=${COMPUTE_HOST}`,
    ])
  ).trim();
  if (!priv) {
    const uuid = (
      await sbctl(ctx, ['--bare', '--columns=_uuid', 'find', 'Chassis', `name=${COMPUTE_HOST}`])
    ).trim();
    await sbctl(ctx, [
      'create',
      'Chassis_Private',
      `name=${COMPUTE_HOST}`,
      `chassis=${uuid}`,
      `nb_cfg_timestamp=${Date.now()}`,
    ]);
  }
}

interface Agent {
  host: string;
  agent_type: string;
  alive: boolean;
}

/** Registers the chassis and waits until Neutron lists it as a live OVN controller agent. */
async function ensureComputeAgent(ctx: RigContext): Promise<void> {
  await registerChassis(ctx);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { agents } = await get<{ agents: Agent[] }>(
      ctx,
      `${neutronUrl(ctx)}/v2.0/agents?host=${COMPUTE_HOST}`,
    );
    if (agents.some((a) => a.alive && /OVN Controller/.test(a.agent_type))) return;
    if (Date.now() > deadline) {
      throw new Error(`Neutron lists no live OVN controller agent on ${COMPUTE_HOST} after 30s`);
    }
    await sleep(500);
  }
}

export const neutronServer: Component = {
  name: 'neutron-server',
  readyTimeoutMs: 120_000,
  port: (ctx) => ctx.config.ports.neutron,

  async prepare(ctx) {
    const f = files(ctx);
    for (const sub of ['state', 'lock']) mkdirSync(join(f.dir, sub), { recursive: true });
    const paste = join(f.dir, 'api-paste.ini');
    copyFileSync('/etc/neutron/api-paste.ini', paste);
    writeIni(f.conf, {
      DEFAULT: {
        ...logToStderr,
        bind_host: '127.0.0.1',
        bind_port: ctx.config.ports.neutron,
        core_plugin: 'ml2',
        service_plugins: 'ovn-router',
        auth_strategy: 'keystone',
        transport_url: transportUrl(ctx),
        // One forked API worker (with 0, the API would run in the parent, which ML2/OVN does not
        // register in its hash ring: it then drops the southbound events that list the chassis).
        api_workers: 1,
        rpc_workers: 0,
        rpc_state_report_workers: 0,
        state_path: join(f.dir, 'state'),
        api_paste_config: paste,
        notify_nova_on_port_status_changes: true,
        notify_nova_on_port_data_changes: true,
        dhcp_agent_notification: false,
        agent_down_time: AGENT_DOWN_TIME,
      },
      database: { connection: dbUrl(ctx, 'neutron') },
      // No AMQP heartbeats, as for Nova (rig/components/nova.ts says why).
      oslo_messaging_rabbit: { heartbeat_timeout_threshold: 0 },
      keystone_authtoken: authtoken(ctx, 'neutron'),
      nova: serviceAuth(ctx, 'nova'),
      oslo_concurrency: { lock_path: join(f.dir, 'lock') },
    });
    writeIni(f.ml2, {
      ml2: {
        mechanism_drivers: 'ovn',
        type_drivers: 'local,flat,vlan,geneve',
        tenant_network_types: 'geneve',
        extension_drivers: 'port_security',
        overlay_ip_version: 4,
      },
      ml2_type_geneve: { vni_ranges: '1:65536', max_header_size: 38 },
      securitygroup: { enable_security_group: true },
      ovn: {
        ovn_nb_connection: ovnNbRemote(ctx),
        ovn_sb_connection: ovnSbRemote(ctx),
        ovn_l3_scheduler: 'leastloaded',
        ovn_metadata_enabled: false,
      },
    });
    const configs = ['--config-file', f.conf, '--config-file', f.ml2];
    await once(ctx, 'neutron-db', () =>
      runLogged(ctx, 'neutron-server', 'neutron-db-manage', [...configs, 'upgrade', 'head'], f.env),
    );
    return {
      command: 'neutron-server',
      args: configs,
      env: f.env,
      cwd: f.dir,
      logFile: ctx.logFile('neutron-server'),
    };
  },

  async ready(ctx) {
    const res = await httpGet(`${neutronUrl(ctx)}/`);
    return res.status === 200 && res.body.includes('"versions"');
  },

  afterReady: ensureComputeAgent,

  version: () => debVersion('neutron-server'),
};
