// A model table's query (the URL's search parameters) and how watch events change the page it
// shows: rows change in place, objects that enter the filter appear (on the first page, where
// they sort), objects that leave it or are deleted disappear. Pure functions.
import { statusOf } from './status';
import type { FieldInfo, ModelInfo, Obj, WatchEvent } from './types';

export const PAGE_SIZES = [50, 100, 500] as const;
export const DEFAULT_PAGE_SIZE = 100;

/** What the table shows, as kept in the URL (?name=&status=&where=&order_by=&page_size=). */
export interface TableQuery {
  name: string;
  status: string;
  /** Further filters, "field=value" or "field__op=value", separated by spaces. */
  where: string;
  orderBy: string;
  pageSize: number;
}

export function queryOf(params: URLSearchParams): TableQuery {
  const size = Number(params.get('page_size'));
  return {
    name: params.get('name') ?? '',
    status: params.get('status') ?? '',
    where: params.get('where') ?? '',
    orderBy: params.get('order_by') ?? '',
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

export function searchOf(q: TableQuery): string {
  const p = new URLSearchParams();
  if (q.name) p.set('name', q.name);
  if (q.status) p.set('status', q.status);
  if (q.where) p.set('where', q.where);
  if (q.orderBy) p.set('order_by', q.orderBy);
  if (q.pageSize !== DEFAULT_PAGE_SIZE) p.set('page_size', String(q.pageSize));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** "network_id=2 ip__contains=10." → [["network_id", "2"], ["ip__contains", "10."]]. */
export function parseWhere(where: string): [string, string][] {
  return where
    .split(/\s+/)
    .filter((part) => part.includes('='))
    .map((part) => {
      const i = part.indexOf('=');
      return [part.slice(0, i), part.slice(i + 1)] as [string, string];
    })
    .filter(([k]) => /^[a-z_][a-z0-9_]*$/i.test(k));
}

/** The gateway's list parameters for a page. */
export function listParams(q: TableQuery, pageToken: string): URLSearchParams {
  const p = new URLSearchParams();
  p.set('page_size', String(q.pageSize));
  if (pageToken) p.set('page_token', pageToken);
  if (q.orderBy) p.set('order_by', q.orderBy);
  if (q.name) p.set('name__contains', q.name);
  if (q.status) p.set('status', q.status);
  for (const [k, v] of parseWhere(q.where)) p.append(k, v);
  return p;
}

export function filtered(q: TableQuery): boolean {
  return Boolean(q.name || q.status || parseWhere(q.where).length);
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders objects as order_by does (id last). */
export function comparator(orderBy: string): (a: Obj, b: Obj) => number {
  const keys = orderBy
    .split(',')
    .filter(Boolean)
    .map((k) =>
      k.startsWith('-') ? { field: k.slice(1), desc: true } : { field: k, desc: false },
    );
  return (a, b) => {
    for (const { field, desc } of keys) {
      const c = compareValues(a[field], b[field]);
      if (c) return desc ? -c : c;
    }
    return a.id - b.id;
  };
}

function matchesOp(value: unknown, op: string, arg: string): boolean {
  const num = Number(arg);
  const target: unknown =
    arg === 'true' ? true : arg === 'false' ? false : arg !== '' && !Number.isNaN(num) ? num : arg;
  const text =
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  switch (op) {
    case 'eq':
      return arg === 'null'
        ? value === null || value === undefined
        : value === target || text === arg;
    case 'ne':
      return !(value === target || text === arg);
    case 'lt':
      return compareValues(value, target) < 0;
    case 'le':
      return compareValues(value, target) <= 0;
    case 'gt':
      return compareValues(value, target) > 0;
    case 'ge':
      return compareValues(value, target) >= 0;
    case 'in':
      return arg.split(',').includes(text);
    case 'contains':
      return text.toLowerCase().includes(arg.toLowerCase());
    case 'isnull':
      return (value === null || value === undefined) === (arg === 'true');
    default:
      return true;
  }
}

/** Whether an object belongs in the table's filter (as the server would answer). */
export function matches(o: Obj, q: TableQuery, synced: boolean, now: number): boolean {
  if (o.deleted_at && q.status !== 'deleting') return false;
  if (
    q.name &&
    !(typeof o.name === 'string' ? o.name : '').toLowerCase().includes(q.name.toLowerCase())
  )
    return false;
  if (q.status && statusOf(o, synced, now).badge !== q.status) return false;
  for (const [k, v] of parseWhere(q.where)) {
    const [field = k, op = 'eq'] = k.split('__');
    if (!matchesOp(o[field], op, v)) return false;
  }
  return true;
}

/** Fills what a watch event leaves out (proto3 defaults): absent bookkeeping is 0 or "". */
export function normalize(o: Obj, fields: readonly FieldInfo[]): Obj {
  const out: Obj = { ...o };
  for (const f of fields) {
    if (f.name in out) continue;
    if (f.bookkeeping && f.type === 'integer') out[f.name] = 0;
    else if (f.bookkeeping && f.type === 'string') out[f.name] = '';
    else out[f.name] = null;
  }
  return out;
}

/** A page as read, and when the read started (changes seen before it are in it already). */
export interface PageData {
  items: Obj[];
  /** How many objects come before this page. */
  offset: number;
  total: number | undefined;
  next: string;
  startedAt: number;
}

/** The latest change seen of an object since the page was read. */
export interface Change {
  obj: Obj | null;
  created: boolean;
  /** When it was seen (Date.now()); also the clock its status is judged by. */
  at: number;
}

export function remember(
  changes: ReadonlyMap<number, Change>,
  e: WatchEvent,
  model: ModelInfo | undefined,
  at: number,
  since: number,
): Map<number, Change> {
  const next = new Map([...changes].filter(([, c]) => c.at > since));
  const prev = next.get(e.id);
  next.delete(e.id);
  next.set(e.id, {
    obj: e.op === 'reap' || !e.object ? null : normalize(e.object, model?.fields ?? []),
    created: (prev?.created ?? false) || e.op === 'create',
    at,
  });
  return next;
}

export interface Shown {
  items: Obj[];
  total: number | undefined;
}

/** The page with the changes seen since it was read applied. */
export function applyChanges(
  page: PageData,
  changes: ReadonlyMap<number, Change>,
  opts: { query: TableQuery; synced: (o: Obj) => boolean; firstPage: boolean },
): Shown {
  const items = [...page.items];
  let total = page.total;
  const order = comparator(opts.query.orderBy);
  const full = page.items.length >= opts.query.pageSize;
  for (const [id, c] of changes) {
    if (c.at <= page.startedAt) continue;
    const i = items.findIndex((o) => o.id === id);
    const fits = c.obj !== null && matches(c.obj, opts.query, opts.synced(c.obj), c.at);
    if (i >= 0) {
      if (fits) items[i] = c.obj!;
      else {
        items.splice(i, 1);
        if (total !== undefined) total--;
      }
      continue;
    }
    if (!fits) continue;
    if (c.created && total !== undefined) total++;
    if (!opts.firstPage) continue;
    const at = items.findIndex((o) => order(c.obj!, o) < 0);
    // After the last row of a full page: it belongs to a later page.
    if (at < 0 && full) continue;
    items.splice(at < 0 ? items.length : at, 0, c.obj!);
    if (items.length > opts.query.pageSize) items.pop();
  }
  return { items, total };
}

/** Whether a change may have moved an object not on the page in or out of the filter. */
export function uncertain(e: WatchEvent, onPage: boolean, q: TableQuery): boolean {
  if (onPage || e.op === 'create') return false;
  return filtered(q) || e.op === 'delete';
}
