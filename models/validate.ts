// Validation of writes against the registry, without the database: every value is checked and
// normalised by its field's declaration, and every problem is reported, each naming its field.
// What needs the database (references, uniqueness, addresses in use) is checked by the service.
import {
  AddressError,
  normalizeMac,
  parseAddress,
  parseCidr,
  formatAddress,
} from './ipam/address.js';
import type { FieldProblem } from './errors.js';
import {
  BOOKKEEPING,
  DELETION_POLICIES,
  MANAGEMENT_POLICIES,
  SYNC_BOOKKEEPING,
  USER_BOOKKEEPING,
  type FieldDef,
  type Registry,
  type ResolvedModel,
} from './registry.js';
import { columnOf } from './schema.js';

export interface FieldInfo {
  /** The name callers use: the column (`network_id` for a reference `network`). */
  key: string;
  /** The field's name in the registry. */
  field: string;
  def: FieldDef;
}

/** What the service needs to know about a model, computed once per registry. */
export interface ModelInfo {
  model: ResolvedModel;
  /** Its fields by key; references are also found by their field name. */
  byKey: Map<string, FieldInfo>;
  fields: FieldInfo[];
  /** Keys of the fields a user may not write (feedback state). */
  feedback: Set<string>;
  /** Keys of password fields (stored hashed, never returned). */
  passwords: Set<string>;
}

const cache = new WeakMap<Registry, Map<string, ModelInfo>>();

export function modelInfo(registry: Registry, name: string): ModelInfo {
  let perRegistry = cache.get(registry);
  if (!perRegistry) {
    perRegistry = new Map();
    cache.set(registry, perRegistry);
  }
  const known = perRegistry.get(name);
  if (known) return known;
  const model = registry.get(name);
  const fields: FieldInfo[] = Object.entries(model.allFields).map(([field, def]) => ({
    key: columnOf(field, def),
    field,
    def,
  }));
  const byKey = new Map<string, FieldInfo>();
  for (const f of fields) {
    byKey.set(f.key, f);
    if (f.key !== f.field) byKey.set(f.field, f);
  }
  const info: ModelInfo = {
    model,
    byKey,
    fields,
    feedback: new Set(fields.filter((f) => f.def.feedback).map((f) => f.key)),
    passwords: new Set(fields.filter((f) => f.def.type === 'password').map((f) => f.key)),
  };
  perRegistry.set(name, info);
  return info;
}

const INT32_MAX = 2147483647;

/** A value checked and normalised for its column, or the reason it is refused. */
/** PostgreSQL stores no NUL character in text or JSON: such a value is refused with this. */
const NUL_REASON = 'contains a NUL character (\\u0000), which cannot be stored';

/** Whether a JSON value holds a NUL character in any string or key. */
function holdsNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(holdsNul);
  if (v && typeof v === 'object') {
    return Object.entries(v).some(([k, x]) => k.includes('\u0000') || holdsNul(x));
  }
  return false;
}

/** Timestamps PostgreSQL and ISO 8601 text both hold: years 1 to 9999. */
const MIN_TIME = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_TIME = Date.parse('9999-12-31T23:59:59.999Z');

export function coerce(def: FieldDef, value: unknown): { value: unknown } | { reason: string } {
  if (value === null || value === undefined) return { value: null };
  if (typeof value === 'string' && value.includes('\u0000')) return { reason: NUL_REASON };
  switch (def.type) {
    case 'string':
    case 'text':
    case 'password': {
      if (typeof value !== 'string') return { reason: `must be a string, not ${describe(value)}` };
      if (def.type === 'string' && value.length > (def.maxLength ?? 256)) {
        return {
          reason: `is ${String(value.length)} characters; at most ${String(def.maxLength ?? 256)}`,
        };
      }
      if (def.type === 'password' && value.length < 8) {
        return { reason: 'must be at least 8 characters' };
      }
      if (def.choices && !def.choices.includes(value)) {
        return { reason: `must be one of ${def.choices.join(', ')}, not "${value}"` };
      }
      if (def.pattern && !def.pattern.regex.test(value)) return { reason: def.pattern.reason };
      return { value };
    }
    case 'integer':
    case 'reference': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        return {
          reason:
            def.type === 'reference'
              ? `must be the id of a ${def.reference?.model ?? 'model'}, not ${describe(value)}`
              : `must be an integer, not ${describe(value)}`,
        };
      }
      if (def.type === 'reference' && n < 1) return { reason: `${String(n)} is not an id` };
      if (Math.abs(n) > INT32_MAX) return { reason: `${String(n)} is out of range` };
      return bounds(def, n);
    }
    case 'float': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) {
        return { reason: `must be a number, not ${describe(value)}` };
      }
      return bounds(def, n);
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { value };
      if (value === 'true' || value === 'false') return { value: value === 'true' };
      return { reason: `must be true or false, not ${describe(value)}` };
    }
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(JSON.stringify(value)) as unknown;
      } catch {
        return { reason: 'must be JSON' };
      }
      if (holdsNul(parsed)) return { reason: NUL_REASON };
      return { value: parsed };
    }
    case 'timestamp': {
      const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
      if (!d || Number.isNaN(d.getTime())) {
        return { reason: `must be an ISO 8601 time, not ${describe(value)}` };
      }
      if (d.getTime() < MIN_TIME || d.getTime() > MAX_TIME) {
        return { reason: `${d.toISOString()} is out of range (years 1 to 9999)` };
      }
      return { value: d.toISOString() };
    }
    case 'ip':
    case 'cidr':
    case 'mac': {
      if (typeof value !== 'string') return { reason: `must be a string, not ${describe(value)}` };
      if (value === '') return { value: null };
      try {
        if (def.type === 'cidr') return { value: parseCidr(value).cidr };
        if (def.type === 'mac') return { value: normalizeMac(value) };
        const a = parseAddress(value);
        return { value: formatAddress(a.family, a.value) };
      } catch (err) {
        if (err instanceof AddressError) return { reason: err.message };
        throw err;
      }
    }
  }
}

function bounds(def: FieldDef, n: number): { value: number } | { reason: string } {
  if (def.min !== undefined && n < def.min)
    return { reason: `must be at least ${String(def.min)}` };
  if (def.max !== undefined && n > def.max) return { reason: `must be at most ${String(def.max)}` };
  return { value: n };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 40) + '…' : value}"`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

const SYSTEM_KEYS = new Set<string>(
  BOOKKEEPING.filter(
    (k) => !USER_BOOKKEEPING.includes(k as never) && !SYNC_BOOKKEEPING.includes(k as never),
  ),
);
const SYNC_KEYS = new Set<string>(SYNC_BOOKKEEPING);

const NAME_DEF: FieldDef = { type: 'string', maxLength: 256 };
const BOOL_DEF: FieldDef = { type: 'boolean' };
/** The user bookkeeping that is a choice, with its default. */
export const POLICY_DEFS: Record<string, FieldDef & { default: string }> = {
  management_policy: { type: 'string', choices: [...MANAGEMENT_POLICIES], default: 'full' },
  deletion_policy: { type: 'string', choices: [...DELETION_POLICIES], default: 'delete' },
};

export interface CheckedWrite {
  /** Column -> normalised value, for the columns the write sets. */
  set: Record<string, unknown>;
  problems: FieldProblem[];
}

/**
 * Checks a user's create or update of `info`'s model. `current` is the stored row on update.
 * Returns the columns to set (with defaults on create) and every problem, each naming its field.
 */
export function checkUserWrite(
  info: ModelInfo,
  input: Readonly<Record<string, unknown>>,
  current?: Readonly<Record<string, unknown>>,
  index?: number,
): CheckedWrite {
  const set: Record<string, unknown> = {};
  const problems: FieldProblem[] = [];
  const problem = (field: string, reason: string) =>
    problems.push(index === undefined ? { field, reason } : { field, reason, index });
  const model = info.model;
  const given = new Set<string>();

  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (key === 'name') {
      const c = coerce(NAME_DEF, value);
      if ('reason' in c) problem('name', c.reason);
      else set.name = typeof c.value === 'string' && c.value === '' ? null : c.value;
      given.add('name');
      continue;
    }
    if (key === 'no_sync' || key === 'write_protect') {
      const c = coerce(BOOL_DEF, value);
      if ('reason' in c) problem(key, c.reason);
      else set[key] = c.value ?? false;
      continue;
    }
    const policy = POLICY_DEFS[key];
    if (policy) {
      const c = coerce(policy, value);
      if ('reason' in c) problem(key, c.reason);
      else set[key] = c.value ?? policy.default;
      continue;
    }
    if (SYNC_KEYS.has(key)) {
      problem(key, 'is written by the synchronizer only');
      continue;
    }
    if (SYSTEM_KEYS.has(key)) {
      if (key === 'id' && current && value === current.id) continue;
      if (key === 'leaf_model' && value === model.name) continue;
      problem(key, 'is set by Syncord, not by a write');
      continue;
    }
    const f = info.byKey.get(key);
    if (!f) {
      problem(key, `${model.name} has no such field`);
      continue;
    }
    if (given.has(f.key)) {
      problem(key, `given twice (as ${f.field} and ${f.key})`);
      continue;
    }
    given.add(f.key);
    if (f.def.feedback) {
      problem(f.key, 'is written by the synchronizer only');
      continue;
    }
    const c = coerce(f.def, value);
    if ('reason' in c) {
      problem(f.key, c.reason);
      continue;
    }
    if (current && f.def.immutable && !sameValue(current[f.key], c.value)) {
      problem(f.key, 'cannot be changed after creation');
      continue;
    }
    set[f.key] = c.value;
  }

  if (!current) {
    // Create: defaults, then required fields (all of them at once).
    for (const f of info.fields) {
      if (f.key in set || f.def.feedback) continue;
      if (f.def.default !== undefined) set[f.key] = structuredClone(f.def.default);
    }
  }
  const after = (key: string) => (key in set ? set[key] : current?.[key]);
  if (model.nameRequired && (after('name') === null || after('name') === undefined)) {
    if (!problems.some((p) => p.field === 'name')) problem('name', 'is required');
  }
  for (const f of info.fields) {
    if (!f.def.required) continue;
    const v = after(f.key);
    if ((v === null || v === undefined) && !problems.some((p) => p.field === f.key)) {
      problem(f.key, 'is required');
    }
  }
  if (model.derivedDefaults && problems.length === 0) {
    // On create, computed defaults fill empty fields; on update, a field that still holds the
    // default computed from the old values follows the new ones (a subnet's default gateway).
    const derive = model.derivedDefaults;
    const byField = (pick: (key: string) => unknown) =>
      Object.fromEntries(info.fields.map((f) => [f.field, pick(f.key)]));
    const fresh = derive(byField(after));
    const old = current ? derive(byField((k) => current[k])) : {};
    for (const [field, value] of Object.entries(fresh)) {
      const f = info.byKey.get(field);
      if (!f || given.has(f.key)) continue;
      const now = after(f.key);
      if (now === null || now === undefined || (current && sameValue(now, old[field]))) {
        if (!sameValue(now, value)) set[f.key] = value;
      }
    }
  }
  if (model.check && problems.length === 0) {
    const byField: Record<string, unknown> = { name: after('name') };
    for (const f of info.fields) byField[f.field] = after(f.key);
    for (const p of model.check(byField)) {
      const f = info.byKey.get(p.field);
      problem(f ? f.key : p.field, p.reason);
    }
  }
  return { set, problems };
}

/** Whether two column values are the same (JSON compared by content). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (a instanceof Date) return b !== null && new Date(b as string).getTime() === a.getTime();
  if (typeof a === 'object' && typeof b === 'object' && b !== null) {
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
  }
  return false;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
