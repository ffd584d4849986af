// The status history (migrations/1795500000000-StatusHistory.ts and models/history.ts) on the
// rig's PostgreSQL, in scratch databases: every model table has its triggers, and so does a
// table a later generated migration tracks; only status changes are written; reaping removes an
// object's history; the prune keeps 7 days and 100 entries per object; the migration reverts.
import { expect } from 'chai';
import pg from 'pg';
import { defaultRegistry } from '../../models/index.js';
import { migrate, openDataSource, withScratchDatabase } from '../../models/datasource.js';
import { pruneHistory, readHistory } from '../../models/history.js';
import { rig, type RigEnv } from '../support/rig.js';

/** A model table as a generated migration makes one (the bookkeeping the triggers read). */
const GADGET = `CREATE TABLE "gadget" (
  "id" SERIAL PRIMARY KEY, "name" varchar(256), "version" integer NOT NULL DEFAULT 1,
  "synced_version" integer NOT NULL DEFAULT 0, "backend_code" smallint NOT NULL DEFAULT 0,
  "backend_status" text NOT NULL DEFAULT '', "failures" integer NOT NULL DEFAULT 0,
  "next_attempt_at" timestamptz, "deleted_at" timestamptz, "colour" varchar(32))`;

describe('models: status history', function () {
  this.timeout(120_000);
  let env: RigEnv;

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
  });

  const withDb = (work: (c: pg.Client, url: string) => Promise<void>) =>
    withScratchDatabase(env.DATABASE_URL, async (url) => {
      const ds = await openDataSource(url, defaultRegistry(), { poolSize: 2 });
      try {
        await migrate(ds);
      } finally {
        await ds.destroy();
      }
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await work(c, url);
      } finally {
        await c.end();
      }
    });

  const entries = async (c: pg.Client, table: string, id: number) =>
    (
      await c.query<{ backend_code: number; backend_status: string }>(
        `SELECT backend_code, backend_status FROM syncord_status_history
          WHERE model_table = $1 AND object_id = $2 ORDER BY id`,
        [table, id],
      )
    ).rows;

  it('has history triggers on every model table, and on a table tracked by a later migration', async () => {
    await withDb(async (c) => {
      const { rows } = await c.query<{ table: string }>(
        `SELECT DISTINCT event_object_table AS table FROM information_schema.triggers
          WHERE trigger_name LIKE 'syncord_history_%'`,
      );
      expect(rows.map((r) => r.table).sort()).to.deep.equal(
        defaultRegistry()
          .tables()
          .map((t) => t.table)
          .sort(),
      );
      await c.query(GADGET);
      await c.query(`SELECT syncord_track('gadget', 'Gadget')`);
      const id = (
        await c.query<{ id: number }>(`INSERT INTO gadget (name) VALUES ('g') RETURNING id`)
      ).rows[0]!.id;
      await c.query(`UPDATE gadget SET colour = 'red', version = version + 1 WHERE id = $1`, [id]);
      await c.query(`UPDATE gadget SET backend_code = 2, backend_status = 'broken' WHERE id = $1`, [
        id,
      ]);
      await c.query(
        `UPDATE gadget SET next_attempt_at = now() + interval '1 minute' WHERE id = $1`,
        [id],
      );
      expect(await entries(c, 'gadget', id)).to.deep.equal([
        { backend_code: 0, backend_status: '' },
        { backend_code: 2, backend_status: 'broken' },
        { backend_code: 2, backend_status: 'broken' },
      ]);
      // The change log still works for it too.
      const logged = await c.query(`SELECT op FROM syncord_change WHERE model = 'Gadget'`);
      expect(logged.rowCount).to.equal(4);
      await c.query(`DELETE FROM gadget WHERE id = $1`, [id]);
      expect(await entries(c, 'gadget', id)).to.deep.equal([]);
    });
  });

  it('prunes entries older than 7 days and beyond 100 per object, looking only at objects written since', async () => {
    await withDb(async (c, url) => {
      const site = async (name: string) =>
        (await c.query<{ id: number }>(`INSERT INTO site (name) VALUES ($1) RETURNING id`, [name]))
          .rows[0]!.id;
      const busy = await site('busy');
      const old = await site('old');
      const changes = (id: number, n: number, from = 1) =>
        c.query(`DO $$ BEGIN FOR i IN ${String(from)}..${String(from + n - 1)} LOOP
                   UPDATE site SET backend_status = 'change ' || i WHERE id = ${String(id)};
                 END LOOP; END $$`);
      await changes(busy, 150);
      await changes(old, 3);
      await c.query(
        `UPDATE syncord_status_history SET at = now() - interval '8 days' WHERE object_id = $1
           AND model_table = 'site'`,
        [old],
      );
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      try {
        const first = await pruneHistory(pool);
        expect(first).to.include({ expired: 4, capped: 51 });
        const kept = await readHistory(pool, defaultRegistry(), 'Site', busy);
        expect(kept).to.have.length(100);
        expect(kept[0]!.backend_status).to.equal('change 150');
        expect(kept.at(-1)!.backend_status).to.equal('change 51');
        expect(await readHistory(pool, defaultRegistry(), 'Site', old)).to.deep.equal([]);

        // Nothing written since: nothing to look at. Five more: five go.
        expect(await pruneHistory(pool, { since: first.upTo })).to.include({ capped: 0 });
        await changes(busy, 5, 151);
        const third = await pruneHistory(pool, { since: first.upTo });
        expect(third).to.include({ expired: 0, capped: 5 });
        const now = await readHistory(pool, defaultRegistry(), 'Site', busy);
        expect(now).to.have.length(100);
        expect(now[0]!.backend_status).to.equal('change 155');
      } finally {
        await pool.end();
      }
    });
  });

  it('reverts: the triggers, the table and the extended syncord_track go', async () => {
    await withScratchDatabase(env.DATABASE_URL, async (url) => {
      const ds = await openDataSource(url, defaultRegistry(), { poolSize: 2 });
      try {
        await migrate(ds);
        const q = (sql: string) => ds.query<Record<string, unknown>[]>(sql);
        // Back to before StatusHistory (undoing the migrations committed after it first).
        const undone: string[] = [];
        while (!undone.includes('StatusHistory1795500000000')) {
          const last = await q(`SELECT name FROM syncord_migrations ORDER BY id DESC LIMIT 1`);
          undone.unshift(String(last[0]?.name));
          await ds.undoLastMigration({ transaction: 'each' });
        }
        expect(
          await q(
            `SELECT 1 FROM information_schema.triggers WHERE trigger_name LIKE 'syncord_history_%'`,
          ),
        ).to.deep.equal([]);
        expect(await q(`SELECT to_regclass('syncord_status_history') AS t`)).to.deep.equal([
          { t: null },
        ]);
        await ds.query(GADGET);
        await ds.query(`SELECT syncord_track('gadget', 'Gadget')`);
        const triggers = await q(
          `SELECT trigger_name FROM information_schema.triggers WHERE event_object_table = 'gadget'`,
        );
        expect(triggers.map((t) => t.trigger_name)).to.have.members([
          'syncord_log_insert',
          'syncord_log_update',
          'syncord_log_delete',
        ]);
        await ds.query(`DROP TABLE gadget`);
        expect(await migrate(ds)).to.deep.equal(undone);
      } finally {
        await ds.destroy();
      }
    });
  });
});
