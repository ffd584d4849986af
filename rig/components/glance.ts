// Glance from Debian's glance-api (its own eventlet server), images in a file store under the run
// directory. The rig keeps one public image, `cirros`: a few bytes, which is all that Nova's fake
// virt driver reads of it.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Component, RigContext } from '../component.js';
import { httpGet } from '../http.js';
import { get, post, request } from './openstack-api.js';
import {
  authtoken,
  dbUrl,
  debVersion,
  glanceUrl,
  logToStderr,
  once,
  runLogged,
  serviceDir,
  serviceEnv,
  writeIni,
} from './openstack-base.js';

export const IMAGE_NAME = 'cirros';

interface Image {
  id: string;
  name: string;
  status: string;
}

async function ensureImage(ctx: RigContext): Promise<void> {
  const base = `${glanceUrl(ctx)}/v2/images`;
  const found = (await get<{ images: Image[] }>(ctx, `${base}?name=${IMAGE_NAME}`)).images;
  if (found.some((i) => i.status === 'active')) return;
  // An image left without its data by an interrupted upload is replaced.
  for (const stale of found) await request(ctx, 'DELETE', `${base}/${stale.id}`);
  const image = await post<Image>(ctx, base, {
    name: IMAGE_NAME,
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'public',
    min_disk: 0,
    min_ram: 0,
  });
  await request(ctx, 'PUT', `${base}/${image.id}/file`, {
    data: Buffer.from('syncord rig: an image for the fake virt driver\n'),
  });
}

export const glance: Component = {
  name: 'glance',
  readyTimeoutMs: 60_000,
  port: (ctx) => ctx.config.ports.glance,

  async prepare(ctx) {
    const dir = serviceDir(ctx, 'glance');
    for (const sub of ['images', 'staging', 'tasks', 'lock']) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    const paste = join(dir, 'glance-api-paste.ini');
    copyFileSync('/etc/glance/glance-api-paste.ini', paste);
    const conf = join(dir, 'glance-api.conf');
    writeIni(conf, {
      DEFAULT: {
        ...logToStderr,
        bind_host: '127.0.0.1',
        bind_port: ctx.config.ports.glance,
        // One process: 0 serves from the parent instead of forking a worker.
        workers: 0,
        enabled_backends: 'file:file',
      },
      database: { connection: dbUrl(ctx, 'glance') },
      glance_store: { default_backend: 'file' },
      file: { filesystem_store_datadir: join(dir, 'images') },
      os_glance_staging_store: { filesystem_store_datadir: join(dir, 'staging') },
      os_glance_tasks_store: { filesystem_store_datadir: join(dir, 'tasks') },
      keystone_authtoken: authtoken(ctx, 'glance'),
      paste_deploy: { flavor: 'keystone', config_file: paste },
      oslo_concurrency: { lock_path: join(dir, 'lock') },
    });
    const env = serviceEnv(dir);
    await once(ctx, 'glance-db', () =>
      runLogged(ctx, 'glance', 'glance-manage', ['--config-file', conf, 'db_sync'], env),
    );
    return {
      command: 'glance-api',
      args: ['--config-file', conf],
      env,
      cwd: dir,
      logFile: ctx.logFile('glance'),
    };
  },

  async ready(ctx) {
    // The version document, answered with 300 Multiple Choices.
    const res = await httpGet(`${glanceUrl(ctx)}/`);
    return res.status === 300 && res.body.includes('"versions"');
  },

  afterReady: ensureImage,

  version: () => debVersion('glance-api'),
};
