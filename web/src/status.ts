// An object's status badge from its bookkeeping (web/README.md, "The status badge").

export type Badge = 'ok' | 'pending' | 'error' | 'retrying' | 'deleting' | 'no-sync';

export const BADGES: readonly Badge[] = ['pending', 'ok', 'error', 'retrying', 'deleting'];

export interface Status {
  badge: Badge;
  /** The label on the pill: "ok", "retrying at 12:03:04", ... */
  label: string;
  /** Why: the backend's words, what it waits for. */
  reason: string;
}

/** The bookkeeping the badge reads (an object, or an entry of its status history). */
export interface Bookkeeping {
  id?: number;
  deleted_at?: unknown;
  backend_code?: unknown;
  backend_status?: unknown;
  next_attempt_at?: unknown;
  failures?: unknown;
  version?: unknown;
  synced_version?: unknown;
  no_sync?: unknown;
  management_policy?: unknown;
  deletion_policy?: unknown;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour12: false });
}

/**
 * The badge, in the README's order: deleting, error, retrying, ok, pending; a model that no
 * step reconciles shows "no sync" instead of a pending that would never end.
 * `now` is the caller's clock (a ticking hook), so that "retrying at" turns over by itself.
 */
export function statusOf(o: Bookkeeping, synced: boolean, now: number): Status {
  const why = text(o.backend_status);
  if (o.deleted_at) {
    return {
      badge: 'deleting',
      label: 'deleting',
      reason: why || 'its backends are being removed',
    };
  }
  if (!synced) {
    return {
      badge: 'no-sync',
      label: 'no sync',
      reason: 'no synchronizer step reconciles this model',
    };
  }
  if (num(o.backend_code) === 2) return { badge: 'error', label: 'error', reason: why || 'failed' };
  const next = text(o.next_attempt_at);
  if (next && Date.parse(next) > now && num(o.failures) > 0) {
    const at = timeOf(next);
    const tries = `${String(num(o.failures))} failed attempt${num(o.failures) > 1 ? 's' : ''}`;
    return {
      badge: 'retrying',
      label: `retrying at ${at}`,
      reason: `${why ? `${why}; ` : ''}${tries}, next at ${at}`,
    };
  }
  const version = num(o.version);
  const syncedVersion = num(o.synced_version);
  // observe: the backend was read, never written; create-only: created, later edits not applied.
  if (num(o.backend_code) === 1 && o.management_policy === 'observe') {
    return { badge: 'ok', label: 'observed', reason: why };
  }
  if (num(o.backend_code) === 1 && o.management_policy === 'create-only' && syncedVersion > 0) {
    return { badge: 'ok', label: 'ok (create-only)', reason: why };
  }
  if (num(o.backend_code) === 1 && syncedVersion === version) {
    return { badge: 'ok', label: 'ok', reason: why };
  }
  let reason = why;
  if (o.no_sync === true) reason = 'no_sync is set: the synchronizer leaves this object alone';
  else if (syncedVersion === 0) reason = why || 'not synced yet';
  else if (syncedVersion < version) {
    const edited = `edited since: version ${String(version)}, the backend has ${String(syncedVersion)}`;
    reason = why ? `${why} (${edited})` : edited;
  }
  return { badge: 'pending', label: 'pending', reason };
}
