// An object's status as operators see it (the GUI's badge, web/README.md), from its bookkeeping,
// computed in SQL so that lists filter by it and the dashboard counts it: in this order,
//   deleting  deleted_at is set (its backends are being torn down)
//   error     backend_code = 2
//   retrying  failures > 0 and next_attempt_at is in the future
//   ok        backend_code = 1 and synced_version = version (observed, for management_policy
//             observe; created, for create-only: edits since are not applied, by choice)
//   pending   anything else (never synced, or edited since)
// Every status but deleting is one of live (not deleted) objects.
import type pg from 'pg';
import type { Registry } from './registry.js';
import { q } from './schema.js';

export const OBJECT_STATUSES = ['pending', 'ok', 'error', 'retrying', 'deleting'] as const;
export type ObjectStatus = (typeof OBJECT_STATUSES)[number];

export const isObjectStatus = (s: unknown): s is ObjectStatus =>
  typeof s === 'string' && (OBJECT_STATUSES as readonly string[]).includes(s);

const LIVE = `"deleted_at" IS NULL`;
const ERROR = `"backend_code" = 2`;
const RETRYING = `("failures" > 0 AND "next_attempt_at" IS NOT NULL AND "next_attempt_at" > now())`;
const OK = `("backend_code" = 1 AND ("synced_version" = "version" OR "management_policy" = 'observe' OR ("management_policy" = 'create-only' AND "synced_version" > 0)))`;

/** The SQL condition (on a model table's columns) that holds for objects with this status. */
export function statusCondition(status: ObjectStatus): string {
  switch (status) {
    case 'deleting':
      return `"deleted_at" IS NOT NULL`;
    case 'error':
      return `(${LIVE} AND ${ERROR})`;
    case 'retrying':
      return `(${LIVE} AND NOT ${ERROR} AND ${RETRYING})`;
    case 'ok':
      return `(${LIVE} AND NOT ${ERROR} AND NOT ${RETRYING} AND ${OK})`;
    case 'pending':
      return `(${LIVE} AND NOT ${ERROR} AND NOT ${RETRYING} AND NOT ${OK})`;
  }
}

export type StatusCounts = Record<ObjectStatus | 'total', number>;

const zero = (): StatusCounts => ({
  total: 0,
  pending: 0,
  ok: 0,
  error: 0,
  retrying: 0,
  deleting: 0,
});

/**
 * Objects of every model by status: one statement per table (a count per status, each with its
 * FILTER), grouped by the rows' own model. A model's counts include the models that extend it,
 * as its List does; `total` is every object not yet reaped (deleting ones included). With
 * `only`, just those ids of each table are counted (a caller limited to a trust domain).
 */
export async function countByStatus(
  db: pg.Pool | pg.PoolClient,
  registry: Registry,
  options: { models?: readonly string[]; only?: Map<string, readonly number[]> } = {},
): Promise<Map<string, StatusCounts>> {
  const wanted = options.models ?? registry.models().map((m) => m.name);
  const tables = new Map<string, string[]>();
  for (const name of wanted) {
    const m = registry.get(name);
    const list = tables.get(m.root) ?? [];
    list.push(name);
    tables.set(m.root, list);
  }
  const byLeaf = new Map<string, StatusCounts>();
  await Promise.all(
    [...tables.keys()].map(async (rootName) => {
      const root = registry.get(rootName);
      const only = options.only ? (options.only.get(root.table) ?? []) : undefined;
      if (only?.length === 0) return;
      const counts = OBJECT_STATUSES.map(
        (s) => `count(*) FILTER (WHERE ${statusCondition(s)})::int AS ${q(s)}`,
      );
      const r = await db.query<Record<ObjectStatus | 'total', number> & { model: string }>(
        `SELECT ${root.polymorphic ? 'leaf_model' : `'${root.name}'::text`} AS model,
                count(*)::int AS total, ${counts.join(', ')}
           FROM ${q(root.table)}${only ? ' WHERE id = ANY($1::int[])' : ''} GROUP BY 1`,
        only ? [only] : [],
      );
      for (const row of r.rows) {
        const c = zero();
        for (const k of Object.keys(c) as (keyof StatusCounts)[]) c[k] = row[k];
        byLeaf.set(row.model, c);
      }
    }),
  );
  const out = new Map<string, StatusCounts>();
  for (const name of wanted) {
    const sum = zero();
    for (const leaf of registry.get(name).family) {
      const c = byLeaf.get(leaf);
      if (!c) continue;
      for (const k of Object.keys(sum) as (keyof StatusCounts)[]) sum[k] += c[k];
    }
    out.set(name, sum);
  }
  return out;
}
