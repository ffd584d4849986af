// Placement from Debian's placement-api under uwsgi, its database on the rig's MariaDB: where
// nova-compute reports the fake driver's resources and the scheduler claims them.
import { join } from 'node:path';
import type { Component } from '../component.js';
import { httpGet } from '../http.js';
import {
  authtoken,
  dbUrl,
  debVersion,
  logToStderr,
  once,
  placementUrl,
  runLogged,
  serviceDir,
  serviceEnv,
  uwsgi,
  writeIni,
} from './openstack-base.js';

export const placement: Component = {
  name: 'placement',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.placement,

  async prepare(ctx) {
    const dir = serviceDir(ctx, 'placement');
    const conf = join(dir, 'placement.conf');
    writeIni(conf, {
      DEFAULT: { ...logToStderr },
      placement_database: { connection: dbUrl(ctx, 'placement') },
      api: { auth_strategy: 'keystone' },
      keystone_authtoken: authtoken(ctx, 'placement'),
    });
    const env = serviceEnv(dir, { OS_PLACEMENT_CONFIG_DIR: dir });
    await once(ctx, 'placement-db', () =>
      runLogged(ctx, 'placement', 'placement-manage', ['--config-file', conf, 'db', 'sync'], env),
    );
    return uwsgi(ctx, 'placement', ctx.config.ports.placement, '/usr/bin/placement-api', env);
  },

  async ready(ctx) {
    const res = await httpGet(`${placementUrl(ctx)}/`);
    return res.status === 200 && res.body.includes('"versions"');
  },

  version: () => debVersion('placement-api'),
};
