// Written by hand: the change log tells status writes apart from edits, records how far it was
// pruned, and IPAM gets its tables (one row per address or MAC in use, under unique keys, freed
// with their Port when it is reaped).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class StatusAndIpam1795455000000 implements MigrationInterface {
  name = 'StatusAndIpam1795455000000';

  async up(db: QueryRunner): Promise<void> {
    // A write that leaves `version` alone is the synchronizer's status (or feedback) write.
    await db.query(`
      CREATE OR REPLACE FUNCTION syncord_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO syncord_change (txid, model, object_id, version, op)
          SELECT pg_current_xact_id(), coalesce(to_jsonb(n) ->> 'leaf_model', TG_ARGV[0]),
                 n.id, n.version,
                 CASE WHEN o.deleted_at IS NULL AND n.deleted_at IS NOT NULL THEN 'delete'
                      WHEN n.version = o.version THEN 'status'
                      ELSE 'update' END
          FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id;
        IF FOUND THEN PERFORM syncord_note_txn(); END IF;
        RETURN NULL;
      END $$`);
    // Pruning removes whole transactions up to a cursor; a watch older than it must re-list.
    await db.query(`CREATE TABLE syncord_change_horizon (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        cursor bigint NOT NULL,
        change_id bigint NOT NULL
      )`);
    await db.query(`INSERT INTO syncord_change_horizon (cursor, change_id) VALUES (0, 0)`);

    await db.query(`
      CREATE TABLE syncord_ipam_address (
        network_id integer NOT NULL REFERENCES network (id) ON DELETE CASCADE,
        address inet NOT NULL,
        port_id integer NOT NULL REFERENCES port (id) ON DELETE CASCADE,
        static boolean NOT NULL,
        PRIMARY KEY (network_id, address)
      )`);
    await db.query(
      `CREATE UNIQUE INDEX ux_syncord_ipam_address_port ON syncord_ipam_address (port_id)`,
    );
    // MACs are unique across networks: ONOS names a host by MAC and VLAN, whatever its network.
    await db.query(`
      CREATE TABLE syncord_ipam_mac (
        mac macaddr PRIMARY KEY,
        network_id integer NOT NULL REFERENCES network (id) ON DELETE CASCADE,
        port_id integer NOT NULL REFERENCES port (id) ON DELETE CASCADE,
        static boolean NOT NULL
      )`);
    await db.query(`CREATE UNIQUE INDEX ux_syncord_ipam_mac_port ON syncord_ipam_mac (port_id)`);
    // Where the next dynamic allocation on a network starts looking (wraps around).
    await db.query(`
      CREATE TABLE syncord_ipam_cursor (
        network_id integer PRIMARY KEY REFERENCES network (id) ON DELETE CASCADE,
        next_address inet NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE syncord_ipam_cursor`);
    await db.query(`DROP TABLE syncord_ipam_mac`);
    await db.query(`DROP TABLE syncord_ipam_address`);
    await db.query(`DROP TABLE syncord_change_horizon`);
    await db.query(`
      CREATE OR REPLACE FUNCTION syncord_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
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
  }
}
