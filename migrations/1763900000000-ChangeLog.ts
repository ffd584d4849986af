// The change log: every committed change to a model row, in commit order, for NOTIFY and for
// watches that resume from a cursor. Written by hand (the model tables' migrations are
// generated); every model table gets its triggers through syncord_track(table, model).
//
// How commit order is kept: row changes are logged per statement into syncord_change under the
// transaction's id; the first change of a transaction also inserts its row in syncord_txn, whose
// deferred constraint trigger runs at commit time, takes a transaction-scoped advisory lock
// (held until the commit is visible), stamps the transaction with the next cursor and sends one
// NOTIFY per change. A transaction that rolls back leaves nothing and notifies no one; a reader
// that sees cursor N knows every cursor below N is already committed.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ChangeLog1763900000000 implements MigrationInterface {
  name = 'ChangeLog1763900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SEQUENCE syncord_cursor`);
    await db.query(`
      CREATE TABLE syncord_txn (
        txid xid8 PRIMARY KEY,
        cursor bigint UNIQUE,
        committed_at timestamptz
      )`);
    await db.query(`
      CREATE TABLE syncord_change (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        txid xid8 NOT NULL,
        model varchar(64) NOT NULL,
        object_id integer NOT NULL,
        version integer NOT NULL,
        op varchar(8) NOT NULL
      )`);
    await db.query(`CREATE INDEX ix_syncord_change_txid ON syncord_change (txid, id)`);

    await db.query(`
      CREATE FUNCTION syncord_note_txn() RETURNS void LANGUAGE sql AS $$
        INSERT INTO syncord_txn (txid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING
      $$`);

    // TG_ARGV[0]: the table's model, used when the row has no leaf_model column.
    await db.query(`
      CREATE FUNCTION syncord_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_change (txid, model, object_id, version, op)
          SELECT pg_current_xact_id(), coalesce(to_jsonb(n) ->> 'leaf_model', TG_ARGV[0]),
                 n.id, n.version, 'create'
          FROM new_rows n ORDER BY n.id;
        IF FOUND THEN PERFORM syncord_note_txn(); END IF;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION syncord_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_change (txid, model, object_id, version, op)
          SELECT pg_current_xact_id(), coalesce(to_jsonb(n) ->> 'leaf_model', TG_ARGV[0]),
                 n.id, n.version,
                 CASE WHEN o.deleted_at IS NULL AND n.deleted_at IS NOT NULL THEN 'delete'
                      ELSE 'update' END
          FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id;
        IF FOUND THEN PERFORM syncord_note_txn(); END IF;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION syncord_log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_change (txid, model, object_id, version, op)
          SELECT pg_current_xact_id(), coalesce(to_jsonb(o) ->> 'leaf_model', TG_ARGV[0]),
                 o.id, o.version, 'reap'
          FROM old_rows o ORDER BY o.id;
        IF FOUND THEN PERFORM syncord_note_txn(); END IF;
        RETURN NULL;
      END $$`);

    await db.query(`
      CREATE FUNCTION syncord_commit_txn() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        c bigint;
      BEGIN
        -- One committer at a time from here to the end of the commit: cursor order is commit order.
        PERFORM pg_advisory_xact_lock(7310431);
        c := nextval('syncord_cursor');
        UPDATE syncord_txn SET cursor = c, committed_at = clock_timestamp() WHERE txid = NEW.txid;
        PERFORM pg_notify('syncord_change', json_build_object(
            'cursor', c || '.' || ch.id, 'model', ch.model, 'id', ch.object_id,
            'version', ch.version, 'op', ch.op)::text)
          FROM syncord_change ch WHERE ch.txid = NEW.txid ORDER BY ch.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE CONSTRAINT TRIGGER syncord_commit_txn AFTER INSERT ON syncord_txn
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION syncord_commit_txn()`);

    // Called by the generated migrations for every model table they create.
    await db.query(`
      CREATE FUNCTION syncord_track(tbl text, model text) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        EXECUTE format('CREATE TRIGGER syncord_log_insert AFTER INSERT ON %I
          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_insert(%L)', tbl, model);
        EXECUTE format('CREATE TRIGGER syncord_log_update AFTER UPDATE ON %I
          REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_update(%L)', tbl, model);
        EXECUTE format('CREATE TRIGGER syncord_log_delete AFTER DELETE ON %I
          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
          EXECUTE FUNCTION syncord_log_delete(%L)', tbl, model);
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION syncord_track(text, text)`);
    await db.query(`DROP TABLE syncord_change`);
    await db.query(`DROP TABLE syncord_txn`);
    await db.query(`DROP FUNCTION syncord_commit_txn()`);
    await db.query(`DROP FUNCTION syncord_log_insert()`);
    await db.query(`DROP FUNCTION syncord_log_update()`);
    await db.query(`DROP FUNCTION syncord_log_delete()`);
    await db.query(`DROP FUNCTION syncord_note_txn()`);
    await db.query(`DROP SEQUENCE syncord_cursor`);
  }
}
