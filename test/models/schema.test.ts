// The committed migrations must build exactly the schema the model registry describes, with
// change tracking on every model table (against the rig's PostgreSQL, in a scratch database).
import { expect } from 'chai';
import pg from 'pg';
import { defaultRegistry } from '../../models/index.js';
import {
  migrate,
  openDataSource,
  schemaDrift,
  withScratchDatabase,
} from '../../models/datasource.js';
import { rig, type RigEnv } from '../support/rig.js';

describe('models: schema and migrations', function () {
  this.timeout(120_000);
  let env: RigEnv;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
  });

  it('the committed migrations match the registry (run `syncord migrate generate` if not)', async () => {
    const registry = defaultRegistry();
    await withScratchDatabase(env.DATABASE_URL, async (url) => {
      const ds = await openDataSource(url, registry, { poolSize: 2 });
      try {
        const applied = await migrate(ds);
        expect(applied.length).to.be.at.least(2);
        expect(await schemaDrift(ds)).to.deep.equal([]);
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          const { rows } = await c.query<{ table: string }>(
            `SELECT DISTINCT event_object_table AS table FROM information_schema.triggers
             WHERE trigger_name LIKE 'syncord_log_%'`,
          );
          expect(rows.map((r) => r.table).sort()).to.deep.equal(
            registry
              .tables()
              .map((t) => t.table)
              .sort(),
          );
        } finally {
          await c.end();
        }
      } finally {
        await ds.destroy();
      }
    });
  });

  it('logs committed changes in commit order and nothing from a rolled-back transaction', async () => {
    await withScratchDatabase(env.DATABASE_URL, async (url) => {
      const ds = await openDataSource(url, defaultRegistry(), { poolSize: 2 });
      await migrate(ds);
      await ds.destroy();
      const a = new pg.Client({ connectionString: url });
      const listener = new pg.Client({ connectionString: url });
      await a.connect();
      await listener.connect();
      const notes: { model: string; op: string }[] = [];
      listener.on('notification', (n) => notes.push(JSON.parse(n.payload ?? '{}') as never));
      await listener.query('LISTEN syncord_change');
      try {
        await a.query('BEGIN');
        await a.query(`INSERT INTO site (name) VALUES ('rolled-back')`);
        await a.query('ROLLBACK');
        await a.query(`INSERT INTO site (name) VALUES ('co-1')`);
        await a.query(`UPDATE site SET deleted_at = now() WHERE name = 'co-1'`);
        await a.query(`DELETE FROM site WHERE name = 'co-1'`);
        const { rows } = await a.query<{ op: string; model: string }>(
          `SELECT c.op, c.model FROM syncord_change c JOIN syncord_txn t USING (txid)
           ORDER BY t.cursor, c.id`,
        );
        expect(rows).to.deep.equal([
          { op: 'create', model: 'Site' },
          { op: 'delete', model: 'Site' },
          { op: 'reap', model: 'Site' },
        ]);
        for (let i = 0; i < 50 && notes.length < 3; i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(notes.map((n) => n.op)).to.deep.equal(['create', 'delete', 'reap']);
      } finally {
        await a.end();
        await listener.end();
      }
    });
  });
});
