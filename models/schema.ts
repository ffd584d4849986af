// The PostgreSQL schema derived from the registry: one TypeORM EntitySchema per table (a table
// per hierarchy: a root model and the models that extend it share it, told apart by
// `leaf_model`). TypeORM compares these with the database to generate migrations; the model
// service itself writes SQL built from the same registry.
import { EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';
import type { FieldDef, Registry, ResolvedModel } from './registry.js';

/** The column (and object key) of a field: references are stored as `<field>_id`, as in XOS. */
export function columnOf(field: string, def: FieldDef): string {
  return def.type === 'reference' ? `${field}_id` : field;
}

/** Quotes an identifier for PostgreSQL. */
export function q(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function columnType(def: FieldDef): EntitySchemaColumnOptions {
  switch (def.type) {
    case 'string':
      return { type: 'varchar', length: def.maxLength ?? 256 };
    case 'text':
      return { type: 'text' };
    case 'integer':
    case 'reference':
      return { type: 'integer' };
    case 'float':
      return { type: 'double precision' };
    case 'boolean':
      return { type: 'boolean' };
    case 'json':
      return { type: 'jsonb' };
    case 'timestamp':
      return { type: 'timestamptz' };
    case 'ip':
    case 'cidr':
      return { type: 'varchar', length: 64 };
    case 'mac':
      return { type: 'varchar', length: 17 };
    case 'password':
      return { type: 'varchar', length: 256 };
  }
}

// Deletes are soft and cascade in the model service; a row is reaped only once its backends are
// torn down, so the database refuses to reap a row that unreaped rows still refer to (their
// backends may still exist) instead of cascading. Set-null references are cleared on reap.
const onDeleteSql = { cascade: 'RESTRICT', restrict: 'RESTRICT', 'set-null': 'SET NULL' } as const;

/** Every column of a table with the field that defines it and whether all its models need it. */
export function tableColumns(
  registry: Registry,
  root: ResolvedModel,
): Map<string, { field: string; def: FieldDef; notNull: boolean }> {
  const cols = new Map<string, { field: string; def: FieldDef; notNull: boolean }>();
  for (const name of root.family) {
    const m = registry.get(name);
    for (const [field, def] of Object.entries(m.fields)) {
      // A column is NOT NULL only when the root itself requires it: subclasses' columns are
      // empty in their siblings' rows.
      const notNull = m.name === root.name && def.required === true && def.type !== 'password';
      cols.set(columnOf(field, def), { field, def, notNull });
    }
  }
  return cols;
}

const liveRows = '"deleted_at" IS NULL';

export interface UniqueSet {
  /** The partial unique index that enforces it. */
  index: string;
  /** The model it is declared on (its family shares it). */
  model: string;
  columns: string[];
  where: string;
}

/** Names unique among live rows (per scope), and the unique sets of every model of a table. */
export function uniqueSets(registry: Registry, root: ResolvedModel): UniqueSet[] {
  const out: UniqueSet[] = [];
  for (const name of root.family) {
    const m = registry.get(name);
    const familyFilter =
      m.name === root.name || !root.polymorphic
        ? ''
        : ` AND "leaf_model" IN (${m.family.map((f) => `'${f}'`).join(', ')})`;
    const sets: string[][] = [];
    if (m.name === root.name && m.nameUnique) {
      const scope = m.scope ? [columnOf(m.scope, m.allFields[m.scope] ?? { type: 'string' })] : [];
      sets.push([...scope, 'name']);
    }
    for (const set of m.uniqueTogether ?? []) {
      sets.push(
        set.map((f) => (f === 'name' ? 'name' : columnOf(f, m.allFields[f] ?? { type: 'string' }))),
      );
    }
    for (const cols of sets) {
      const notNull = cols.map((c) => ` AND ${q(c)} IS NOT NULL`).join('');
      out.push({
        index: `ux_${root.table}_${cols.join('_')}`,
        model: m.name,
        columns: cols,
        where: `${liveRows}${notNull}${familyFilter}`,
      });
    }
  }
  return out;
}

export function entitySchemas(registry: Registry): EntitySchema[] {
  return registry.tables().map((root) => {
    const columns: Record<string, EntitySchemaColumnOptions> = {
      id: { type: 'integer', primary: true, generated: 'increment' },
      name: { type: 'varchar', length: 256, nullable: !root.nameRequired },
      created_at: { type: 'timestamptz', default: () => 'now()' },
      updated_at: { type: 'timestamptz', default: () => 'now()' },
      version: { type: 'integer', default: 1 },
      synced_version: { type: 'integer', default: 0 },
      backend_code: { type: 'smallint', default: 0 },
      backend_status: { type: 'text', default: '' },
      failures: { type: 'integer', default: 0 },
      next_attempt_at: { type: 'timestamptz', nullable: true },
      // Model policies (as in XOS): the version a policy last handled, and how that went.
      policed_version: { type: 'integer', default: 0 },
      policy_code: { type: 'smallint', default: 0 },
      policy_status: { type: 'text', default: '' },
      deleted_at: { type: 'timestamptz', nullable: true },
      no_sync: { type: 'boolean', default: false },
      write_protect: { type: 'boolean', default: false },
      // Per object (issue 15): what the synchronizer may do to the backend (full, observe,
      // create-only) and what deleting the model does to it (delete, orphan).
      management_policy: { type: 'varchar', length: 16, default: 'full' },
      deletion_policy: { type: 'varchar', length: 16, default: 'delete' },
      // Adopted objects: the backend objects they were made from, by "<backend>/<kind>" (the
      // steps use these names instead of the ones they would give), set by `syncord adopt`.
      backend_handle: { type: 'jsonb', nullable: true },
    };
    if (root.polymorphic) columns.leaf_model = { type: 'varchar', length: 64 };
    const foreignKeys = [];
    const indices = [];
    for (const [column, { def, notNull }] of tableColumns(registry, root)) {
      columns[column] = { ...columnType(def), nullable: !notNull };
      if (def.type === 'reference' && def.reference) {
        const target = registry.get(def.reference.model);
        foreignKeys.push({
          name: `fk_${root.table}_${column}`,
          target: target.root,
          columnNames: [column],
          referencedColumnNames: ['id'],
          onDelete: onDeleteSql[def.reference.onDelete],
        });
        indices.push({ name: `ix_${root.table}_${column}`, columns: [column] });
      }
    }
    for (const u of uniqueSets(registry, root)) {
      indices.push({ name: u.index, columns: u.columns, unique: true, where: u.where });
    }
    return new EntitySchema({
      name: root.name,
      tableName: root.table,
      columns,
      foreignKeys,
      indices,
    });
  });
}
