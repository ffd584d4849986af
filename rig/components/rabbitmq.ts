// RabbitMQ from Debian's rabbitmq-server, the message bus of Nova (and Neutron): one node in the
// run directory, AMQP on 127.0.0.1 only. Erlang's port mapper (epmd) runs in the same process
// group on a port of the rig's, so that `rig down` stops it too and it never meets a system one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { portInUse } from '../process.js';
import { debVersion, greeting, openstackDir, secrets, serviceEnv } from './openstack-base.js';

const dir = (ctx: RigContext) => join(openstackDir(ctx), 'rabbitmq');

/** AMQP 0-9-1's protocol header; a broker answers with Connection.Start (class 10, method 10). */
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export const rabbitmq: Component = {
  name: 'rabbitmq',
  readyTimeoutMs: 90_000,
  port: (ctx) => ctx.config.ports.rabbitmq,

  async prepare(ctx) {
    const d = dir(ctx);
    mkdirSync(join(d, 'mnesia'), { recursive: true });
    const { epmd, rabbitmqDist } = ctx.config.ports;
    for (const port of [epmd, rabbitmqDist]) {
      if (await portInUse(port)) {
        throw new Error(
          `port 127.0.0.1:${port} (epmd or RabbitMQ distribution) is already taken by another process`,
        );
      }
    }
    // The default user is made when the node first boots on an empty database.
    writeFileSync(
      join(d, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${ctx.config.ports.rabbitmq}`,
        'default_user = openstack',
        `default_pass = ${secrets(ctx).rabbit}`,
        'default_vhost = /',
        'loopback_users = none',
        'log.console = true',
        'log.console.level = info',
        'log.file = false',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    writeFileSync(join(d, 'enabled_plugins'), '[].\n');
    // Debian's /etc/rabbitmq/rabbitmq-env.conf is not read: everything is in this environment.
    writeFileSync(join(d, 'rabbitmq-env.conf'), '');
    const env = serviceEnv(d, {
      ERL_EPMD_PORT: String(epmd),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_NODENAME: 'rig@localhost',
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_PID_FILE: join(d, 'rabbitmq.pid'),
      RABBITMQ_DIST_PORT: String(rabbitmqDist),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    });
    // epmd in the foreground (not `epmd -daemon`, which would leave the process group), then the
    // broker, which finds it answering and starts no other.
    const script = [
      `epmd -port ${epmd} -address 127.0.0.1 &`,
      'i=0',
      `until epmd -port ${epmd} -names >/dev/null 2>&1; do`,
      '  i=$((i+1)); [ "$i" -gt 100 ] && { echo "epmd did not start" >&2; exit 1; }',
      '  sleep 0.1',
      'done',
      'exec /usr/lib/rabbitmq/bin/rabbitmq-server',
    ].join('\n');
    return {
      command: '/bin/sh',
      args: ['-c', script],
      env,
      cwd: d,
      logFile: ctx.logFile('rabbitmq'),
    };
  },

  async ready(ctx) {
    const frame = await greeting(ctx.config.ports.rabbitmq, 11, AMQP_HEADER);
    // A method frame (type 1) on channel 0 carrying Connection.Start.
    const ok = frame[0] === 1 && frame.readUInt16BE(7) === 10 && frame.readUInt16BE(9) === 10;
    if (!ok) throw new Error('the AMQP port did not answer with Connection.Start');
    return true;
  },

  version: () => debVersion('rabbitmq-server'),
};
