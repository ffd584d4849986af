// Objects' status history (migrations/1795500000000-StatusHistory.ts writes it from triggers):
// reading an object's entries, and the retention `syncord serve` applies periodically.
import type pg from 'pg';
import type { Registry } from './registry.js';

/** How long entries are kept, and how many per object at most. */
export const HISTORY_MAX_AGE_MS = 7 * 24 * 3600_000;
export const HISTORY_PER_OBJECT = 100;

export interface HistoryEntry {
  /** RFC 3339. */
  at: string;
  backend_code: number;
  backend_status: string;
  version: number;
  synced_version: number;
  failures: number;
  next_attempt_at: string | null;
}

const iso = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** An object's entries, newest first (at most HISTORY_PER_OBJECT, none older than the maximum age). */
export async function readHistory(
  db: pg.Pool,
  registry: Registry,
  model: string,
  id: number,
): Promise<HistoryEntry[]> {
  const r = await db.query<HistoryEntry>(
    `SELECT ${iso('at')} AS at, backend_code, backend_status, version, synced_version, failures,
            ${iso('next_attempt_at')} AS next_attempt_at
       FROM syncord_status_history
      WHERE model_table = $1 AND object_id = $2
        AND at > now() - make_interval(secs => $3::float8 / 1000)
      ORDER BY id DESC LIMIT $4`,
    [registry.get(model).table, id, HISTORY_MAX_AGE_MS, HISTORY_PER_OBJECT],
  );
  return r.rows;
}

export interface PruneResult {
  /** Entries removed for their age, and beyond the per-object cap. */
  expired: number;
  capped: number;
  /** Pass it to the next prune: objects with no entry after it are not looked at again. */
  upTo: string;
}

/**
 * Applies the retention: entries older than `maxAgeMs` go (one range DELETE on the BRIN index
 * of `at`), and so do an object's entries beyond the newest `perObject`, looked for only among
 * the objects with entries written after `since` (the previous prune's `upTo`; '0' the first
 * time), so that a prune costs what was written since the last one, not the whole table.
 */
export async function pruneHistory(
  db: pg.Pool,
  options: { maxAgeMs?: number; perObject?: number; since?: string } = {},
): Promise<PruneResult> {
  const maxAgeMs = options.maxAgeMs ?? HISTORY_MAX_AGE_MS;
  const perObject = options.perObject ?? HISTORY_PER_OBJECT;
  const head = await db.query<{ id: string | null }>(
    'SELECT max(id)::text AS id FROM syncord_status_history',
  );
  const upTo = head.rows[0]?.id ?? options.since ?? '0';
  const expired = await db.query(
    `DELETE FROM syncord_status_history
      WHERE at < now() - make_interval(secs => $1::float8 / 1000)`,
    [maxAgeMs],
  );
  // For each object written to since the last prune: the id of its perObject-th newest entry,
  // if it has that many; everything of it older than that goes.
  const capped = await db.query(
    `WITH touched AS (
       SELECT DISTINCT model_table, object_id FROM syncord_status_history
        WHERE id > $1::bigint AND id <= $2::bigint
     ), bounds AS (
       SELECT t.model_table, t.object_id,
              (SELECT h.id FROM syncord_status_history h
                WHERE h.model_table = t.model_table AND h.object_id = t.object_id
                ORDER BY h.id DESC OFFSET $3::int - 1 LIMIT 1) AS oldest_kept
         FROM touched t
     )
     DELETE FROM syncord_status_history h USING bounds b
      WHERE b.oldest_kept IS NOT NULL AND h.model_table = b.model_table
        AND h.object_id = b.object_id AND h.id < b.oldest_kept`,
    [options.since ?? '0', upTo, perObject],
  );
  return { expired: expired.rowCount ?? 0, capped: capped.rowCount ?? 0, upTo };
}
