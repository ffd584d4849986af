// A migrated scratch database per test file, on the rig's PostgreSQL (or any server whose URL is
// given), dropped when the file is done.
import pg from 'pg';
import { migrate, openDataSource } from '../../models/datasource.js';
import { defaultRegistry } from '../../models/index.js';
import type { Registry } from '../../models/registry.js';
import { ModelService } from '../../models/service.js';
import { rig } from './rig.js';

export interface ScratchDb {
  url: string;
  registry: Registry;
  service: ModelService;
  /** A plain connection for looking at rows as they are stored. */
  sql: pg.Pool;
  drop(): Promise<void>;
}

/** The rig's PostgreSQL (started if it is not running). */
export const rigServer = async (): Promise<string> => (await rig()).DATABASE_URL;

export async function scratchDb(serverUrl?: string, poolSize = 10): Promise<ScratchDb> {
  const base = serverUrl ?? (await rig()).DATABASE_URL;
  const name = `syncord_test_${String(process.pid)}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  const registry = defaultRegistry();
  const ds = await openDataSource(url, registry, { poolSize: 1 });
  await migrate(ds);
  await ds.destroy();
  const service = new ModelService(url, registry, { poolSize });
  const sql = new pg.Pool({ connectionString: url, max: 2 });
  // DROP DATABASE ... WITH (FORCE) in drop() ends connections still closing: not a test failure.
  sql.on('error', () => undefined);
  return {
    url,
    registry,
    service,
    sql,
    async drop() {
      await service.close();
      await sql.end();
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** The objects most tests need: a service with a trust domain, a site, a slice and an image. */
export async function baseObjects(svc: ModelService, prefix = 'base') {
  const service = await svc.create('VNFService', { name: `${prefix}-vnf`, vendor: 'acme' });
  const site = await svc.create('Site', { name: `${prefix}-site` });
  const td = await svc.create('TrustDomain', { name: `${prefix}-td`, owner_id: service.id });
  const slice = await svc.create('Slice', {
    name: `${prefix}-slice`,
    site_id: site.id,
    trust_domain_id: td.id,
    service_id: service.id,
  });
  const image = await svc.create('Image', { name: `${prefix}-image`, tag: '1.0' });
  return { service, site, td, slice, image };
}
