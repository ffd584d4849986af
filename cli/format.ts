// What the model commands print: tables in the style of kubectl (aligned columns, a header in
// capitals), the objects as JSON or YAML exactly as the model service returns them, a model's
// fields as the registry declares them, and errors as one line per problem.
import YAML from 'yaml';
import { AlreadyExistsError, ModelError, ValidationError } from '../models/errors.js';
import { snakeCase, type FieldDef, type Registry, type ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml', 'wide'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A usage error of the command line: printed as `syncord: <message>`, exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** What is shown for an absent value in a table. */
const NONE = '<none>';
/** Table cells longer than this are cut (the full value is in -o json or -o yaml). */
const CELL_MAX = 60;

/** Columns padded to their widest cell, three spaces apart; the last column is not padded. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** One value as a table cell: on one line, cut when long. */
export function cell(value: unknown, max = CELL_MAX): string {
  let text: string;
  if (value === null || value === undefined) return NONE;
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else text = JSON.stringify(value);
  text = text.replace(/\r?\n/g, '\\n').replace(/\t/g, ' ');
  if (text === '') return '""';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A time as the tables show it: ISO 8601 to the second, in UTC. */
function shortTime(value: unknown): string {
  if (typeof value !== 'string') return cell(value);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The synchronizer's view of an object in one word or phrase: `pending` (not synchronized yet),
 * `ok`, `error: <backend_status>`, `retrying at <time>` when a retry is scheduled, and `deleting`
 * for a soft-deleted object whose backends are being torn down.
 */
export function renderStatus(obj: Readonly<Record<string, unknown>>): string {
  const detail = typeof obj.backend_status === 'string' ? obj.backend_status.split('\n')[0]! : '';
  if (obj.deleted_at !== null && obj.deleted_at !== undefined) return 'deleting';
  if (obj.next_attempt_at !== null && obj.next_attempt_at !== undefined) {
    const why = obj.backend_code === 2 && detail ? ` (error: ${detail})` : '';
    return `retrying at ${shortTime(obj.next_attempt_at)}${why}`;
  }
  switch (obj.backend_code) {
    case 1:
      return 'ok';
    case 2:
      return detail ? `error: ${detail}` : 'error';
    default:
      return 'pending';
  }
}

/** Field types that make poor table columns. */
const BULKY: readonly FieldDef['type'][] = ['text', 'json', 'password'];
const KEY_FIELDS_MAX = 4;

/**
 * The few fields a table shows for a model, chosen from the registry: required fields first,
 * then addresses, then fields with choices, then references; for a model with none of these,
 * its first plain fields.
 */
export function keyFields(model: ResolvedModel): string[] {
  const fields = Object.entries(model.allFields).filter(
    ([, def]) => !BULKY.includes(def.type) && !def.feedback,
  );
  const picked: string[] = [];
  const take = (test: (def: FieldDef) => boolean) => {
    for (const [name, def] of fields) {
      const key = columnOf(name, def);
      if (picked.length < KEY_FIELDS_MAX && test(def) && !picked.includes(key)) picked.push(key);
    }
  };
  take((def) => def.required === true);
  take((def) => def.type === 'ip' || def.type === 'cidr' || def.type === 'mac');
  take((def) => def.choices !== undefined);
  take((def) => def.type === 'reference');
  if (picked.length < 2) {
    for (const [name, def] of fields) {
      if (picked.length >= 2) break;
      const key = columnOf(name, def);
      if (!picked.includes(key)) picked.push(key);
    }
  }
  return picked;
}

/** Keys the standard columns show (STATUS stands for the synchronizer's bookkeeping). */
const SHOWN = new Set([
  'id',
  'name',
  'leaf_model',
  'version',
  'backend_code',
  'backend_status',
  'next_attempt_at',
]);

/**
 * A table of objects: ID, NAME, KIND, the model's key fields, STATUS and VERSION; `wide` shows
 * every field of the objects (and the rest of their bookkeeping) instead of the key fields.
 */
export function objectTable(
  model: ResolvedModel,
  items: readonly Record<string, unknown>[],
  wide: boolean,
): string {
  let fields = keyFields(model);
  if (wide) {
    const all = new Set<string>();
    for (const item of items)
      for (const key of Object.keys(item)) if (!SHOWN.has(key)) all.add(key);
    if (items.length === 0) for (const key of keyFields(model)) all.add(key);
    fields = [...all];
  }
  // A field named like a standard column (a Service's `kind`) is headed SERVICE_KIND.
  const standard = ['ID', 'NAME', 'KIND', 'STATUS', 'VERSION'];
  const header = (f: string) =>
    standard.includes(f.toUpperCase())
      ? `${snakeCase(model.name)}_${f}`.toUpperCase()
      : f.toUpperCase();
  const headers = ['ID', 'NAME', 'KIND', ...fields.map(header), 'STATUS', 'VERSION'];
  const rows = items.map((o) => [
    cell(o.id),
    cell(o.name),
    cell(o.leaf_model),
    ...fields.map((f) => (f.endsWith('_at') ? shortTime(o[f]) : cell(o[f]))),
    cell(renderStatus(o), wide ? 200 : CELL_MAX),
    cell(o.version),
  ]);
  return renderTable(headers, rows);
}

/** Objects as JSON or YAML, exactly as the service returned them. */
export function serialize(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) + '\n' : YAML.stringify(value);
}

/** How a command prints objects it read or wrote. */
export function formatObjects(
  model: ResolvedModel,
  value: Record<string, unknown> | readonly Record<string, unknown>[],
  format: OutputFormat,
): string {
  if (format === 'json' || format === 'yaml') return serialize(value, format);
  return objectTable(model, Array.isArray(value) ? value : [value], format === 'wide');
}

/** `Network 3 (mgmt)`: how messages name an object. */
export function objectRef(obj: Readonly<Record<string, unknown>>, fallbackModel?: string): string {
  const model = typeof obj.leaf_model === 'string' ? obj.leaf_model : (fallbackModel ?? '?');
  const name = typeof obj.name === 'string' && obj.name !== '' ? ` (${obj.name})` : '';
  return `${model} ${cell(obj.id)}${name}`;
}

/** The models of the registry: name, package, parent and description. */
export function modelsTable(registry: Registry): string {
  return renderTable(
    ['NAME', 'PACKAGE', 'EXTENDS', 'DESCRIPTION'],
    registry.models().map((m) => [m.name, m.package, m.extends ?? '-', m.description]),
  );
}

function describeDefault(def: FieldDef): string {
  if (def.default === undefined) return '-';
  if (def.default === null) return 'null';
  return typeof def.default === 'object' ? JSON.stringify(def.default) : String(def.default);
}

function fieldDetails(name: string, def: FieldDef, model: ResolvedModel): string {
  const parts: string[] = [];
  if (def.reference) {
    parts.push(
      `refers to ${def.reference.model} (on delete: ${def.reference.onDelete}); given as ${name}=<id|name> or ${columnOf(name, def)}=<id>`,
    );
  }
  if (def.choices) parts.push(`one of ${def.choices.join(', ')}`);
  if (def.min !== undefined && def.max !== undefined) {
    parts.push(`from ${String(def.min)} to ${String(def.max)}`);
  } else if (def.min !== undefined) parts.push(`at least ${String(def.min)}`);
  else if (def.max !== undefined) parts.push(`at most ${String(def.max)}`);
  if (def.pattern) parts.push(def.pattern.reason);
  if (def.type === 'password') parts.push('stored hashed, never shown');
  if (def.immutable) parts.push('immutable: set on create only');
  if (def.feedback) parts.push('feedback: written by the synchronizer, read-only');
  if (model.scope === name) parts.push('names are unique per value of this field');
  if (def.help) parts.push(def.help);
  return parts.join('; ');
}

/** A model as the registry declares it: what it is, its names, and a table of its fields. */
export function describeModel(registry: Registry, model: ResolvedModel): string {
  const lines: string[] = [];
  lines.push(`Model:        ${model.name}`);
  lines.push(`Package:      ${model.package}`);
  lines.push(`Description:  ${model.description}`);
  if (model.extends) lines.push(`Extends:      ${model.extends}`);
  if (model.family.length > 1) lines.push(`Kinds:        ${model.family.join(', ')}`);
  const names = [
    model.nameRequired ? 'required' : 'optional',
    model.nameUnique
      ? `unique${model.scope ? ` per ${model.scope}` : ''}`
      : 'not unique on their own',
  ];
  lines.push(`Names:        ${names.join(', ')}`);
  for (const set of model.uniqueTogether ?? []) {
    lines.push(`Unique:       ${set.join(' + ')} together`);
  }
  const referrers: string[] = [];
  for (const other of registry.models()) {
    for (const [name, def] of Object.entries(other.fields)) {
      if (def.reference && model.family.includes(def.reference.model)) {
        referrers.push(`${other.name}.${name}`);
      }
    }
  }
  if (referrers.length) lines.push(`Referred to:  ${referrers.join(', ')}`);
  lines.push('');
  const rows: string[][] = [
    ['name', 'string', model.nameRequired ? 'yes' : 'no', '-', ''],
    ...Object.entries(model.allFields).map(([name, def]) => [
      name,
      def.type === 'reference' && def.reference ? `reference to ${def.reference.model}` : def.type,
      def.required ? 'yes' : 'no',
      describeDefault(def),
      fieldDetails(name, def, model),
    ]),
    ['no_sync', 'boolean', 'no', 'false', 'the synchronizer leaves the object alone'],
    ['write_protect', 'boolean', 'no', 'false', 'refuses updates and deletes until cleared'],
    [
      'management_policy',
      'string',
      'no',
      'full',
      'full, observe (only read the backend into status) or create-only (no updates)',
    ],
    [
      'deletion_policy',
      'string',
      'no',
      'delete',
      'delete (tear the backend down) or orphan (unmark it and leave it running)',
    ],
  ];
  lines.push(renderTable(['FIELD', 'TYPE', 'REQUIRED', 'DEFAULT', 'DETAILS'], rows).trimEnd());
  lines.push('');
  lines.push(
    'Set by Syncord (read-only): id, leaf_model, version, created_at, updated_at, deleted_at; ' +
      'by the synchronizer: backend_code, backend_status, synced_version, failures, next_attempt_at.',
  );
  return lines.join('\n') + '\n';
}

/** The text of an error for the user: the message, then one line per field problem. */
export function errorLines(err: unknown): string[] {
  if (err instanceof ValidationError) {
    const head =
      err instanceof AlreadyExistsError ? `${err.model} already exists` : `invalid ${err.model}`;
    return [
      `${head}:`,
      ...err.errors.map(
        (e) => `  ${e.index === undefined ? '' : `[${String(e.index)}] `}${e.field}: ${e.reason}`,
      ),
    ];
  }
  if (err instanceof ModelError || err instanceof CliError) return [err.message];
  if (err instanceof AggregateError && err.message === '') {
    // pg reports a refused connection to every address of a host name this way.
    return [
      (err.errors as unknown[]).map((e) => (e instanceof Error ? e.message : String(e))).join('; '),
    ];
  }
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === '42P01') {
    return [`${message}: the database has no Syncord schema yet; run \`syncord migrate\``];
  }
  return [message];
}
