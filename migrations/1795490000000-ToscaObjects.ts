// The objects TOSCA recipes created: a recipe's delete removes only these, and leaves the objects
// it found already there (or only referred to). Written by hand: it is not a model table.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ToscaObjects1795490000000 implements MigrationInterface {
  name = 'ToscaObjects1795490000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE syncord_tosca_object (
        model_table varchar(64) NOT NULL,
        object_id integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (model_table, object_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE syncord_tosca_object`);
  }
}
