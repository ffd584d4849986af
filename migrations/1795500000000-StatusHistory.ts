// Objects' status history, for the GUI's object page: a row per create and per change of
// backend_code, backend_status or next_attempt_at, with the bookkeeping as it was then. Written
// by hand (it is not a model table), like the change log.
//
// Statement-level triggers with transition tables, as the change log's: one INSERT ... SELECT
// per statement, whatever its size (the OVN steps write the statuses of 5,000 ports in one
// UPDATE). An UPDATE writes only the rows whose status columns changed (old and new rows joined
// on id); a user's edit, which leaves them alone, writes none. Reaping an object removes its
// history. syncord_track(table, model), which the generated migrations call for every model
// table they create, now adds these triggers too; this migration adds them to the tables
// tracked already. Retention (7 days, at most 100 rows per object) is models/history.ts's prune,
// run by `syncord serve`.
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The change log's syncord_track, as 1763900000000-ChangeLog made it (restored by down()). */
const TRACK_CHANGES = `
        EXECUTE format('CREATE TRIGGER syncord_log_insert AFTER INSERT ON %I
          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_insert(%L)', tbl, model);
        EXECUTE format('CREATE TRIGGER syncord_log_update AFTER UPDATE ON %I
          REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_update(%L)', tbl, model);
        EXECUTE format('CREATE TRIGGER syncord_log_delete AFTER DELETE ON %I
          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_delete(%L)', tbl, model);`;

export class StatusHistory1795500000000 implements MigrationInterface {
  name = 'StatusHistory1795500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE syncord_status_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        model_table varchar(64) NOT NULL,
        object_id integer NOT NULL,
        at timestamptz NOT NULL,
        backend_code smallint NOT NULL,
        backend_status text NOT NULL,
        version integer NOT NULL,
        synced_version integer NOT NULL,
        failures integer NOT NULL,
        next_attempt_at timestamptz
      )`);
    // An object's entries, newest first; and the time-based prune (BRIN: rows come in time
    // order, and it costs next to nothing per insert).
    await db.query(
      `CREATE INDEX ix_syncord_status_history_object ON syncord_status_history (model_table, object_id, id)`,
    );
    await db.query(
      `CREATE INDEX ix_syncord_status_history_at ON syncord_status_history USING brin (at)`,
    );

    await db.query(`
      CREATE FUNCTION syncord_history_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_status_history (model_table, object_id, at, backend_code,
                                            backend_status, version, synced_version, failures,
                                            next_attempt_at)
          SELECT TG_TABLE_NAME, n.id, statement_timestamp(), n.backend_code, n.backend_status,
                 n.version, n.synced_version, n.failures, n.next_attempt_at
          FROM new_rows n;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION syncord_history_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_status_history (model_table, object_id, at, backend_code,
                                            backend_status, version, synced_version, failures,
                                            next_attempt_at)
          SELECT TG_TABLE_NAME, n.id, statement_timestamp(), n.backend_code, n.backend_status,
                 n.version, n.synced_version, n.failures, n.next_attempt_at
          FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE n.backend_code IS DISTINCT FROM o.backend_code
             OR n.backend_status IS DISTINCT FROM o.backend_status
             OR n.next_attempt_at IS DISTINCT FROM o.next_attempt_at;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION syncord_history_reap() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM syncord_status_history h USING old_rows o
          WHERE h.model_table = TG_TABLE_NAME AND h.object_id = o.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION syncord_track_history(tbl text) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        EXECUTE format('CREATE TRIGGER syncord_history_insert AFTER INSERT ON %I
          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_history_insert()', tbl);
        EXECUTE format('CREATE TRIGGER syncord_history_update AFTER UPDATE ON %I
          REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_history_update()', tbl);
        EXECUTE format('CREATE TRIGGER syncord_history_reap AFTER DELETE ON %I
          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_history_reap()', tbl);
      END $$`);
    // Tables the later generated migrations create get the history too.
    await db.query(`
      CREATE OR REPLACE FUNCTION syncord_track(tbl text, model text) RETURNS void
      LANGUAGE plpgsql AS $$
      BEGIN${TRACK_CHANGES}
        PERFORM syncord_track_history(tbl);
      END $$`);
    // The model tables tracked already: those with the change log's triggers.
    await db.query(`
      SELECT syncord_track_history(c.relname::text)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE t.tgname = 'syncord_log_insert' AND NOT t.tgisinternal
       ORDER BY c.relname`);
  }

  async down(db: QueryRunner): Promise<void> {
    const tables = (await db.query(`
      SELECT c.relname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE t.tgname = 'syncord_history_insert'`)) as { name: string }[];
    for (const { name } of tables) {
      const table = `"${name.replace(/"/g, '""')}"`;
      await db.query(`DROP TRIGGER syncord_history_insert ON ${table}`);
      await db.query(`DROP TRIGGER syncord_history_update ON ${table}`);
      await db.query(`DROP TRIGGER syncord_history_reap ON ${table}`);
    }
    await db.query(`
      CREATE OR REPLACE FUNCTION syncord_track(tbl text, model text) RETURNS void
      LANGUAGE plpgsql AS $$
      BEGIN${TRACK_CHANGES}
      END $$`);
    await db.query(`DROP FUNCTION syncord_track_history(text)`);
    await db.query(`DROP FUNCTION syncord_history_reap()`);
    await db.query(`DROP FUNCTION syncord_history_update()`);
    await db.query(`DROP FUNCTION syncord_history_insert()`);
    await db.query(`DROP TABLE syncord_status_history`);
  }
}
