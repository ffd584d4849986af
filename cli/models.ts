// The model commands, in the manner of kubectl: `syncord get | list | create | update | delete`
// on any model of the registry, and `syncord models | describe` to learn them. Model names are
// case-insensitive (and may be snake_case or plural); objects are named by id or by name;
// references may be given by name. Every command reads and writes through the model service, so
// the service's validation, versions, cascades and paging are what the user gets.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import pg from 'pg';
import YAML from 'yaml';
import { migrate, openDataSource } from '../models/datasource.js';
import { resolveDatabaseUrl } from '../models/embedded.js';
import { NotFoundError, ValidationError, type FieldProblem } from '../models/errors.js';
import { defaultRegistry } from '../models/index.js';
import type { FieldDef, Registry, ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';
import {
  ModelService,
  type Filter,
  type FilterOp,
  type ListOptions,
  type ModelObject,
} from '../models/service.js';
import { checkUserWrite, modelInfo, POLICY_DEFS } from '../models/validate.js';
import {
  CliError,
  OUTPUT_FORMATS,
  describeModel,
  formatObjects,
  modelsTable,
  objectRef,
  serialize,
  type OutputFormat,
} from './format.js';

// ---- the database ------------------------------------------------------------------------------

/**
 * Runs `work` against DATABASE_URL, or else the embedded PostgreSQL (started if it is not
 * running, and stopped afterwards if this call started it, also on Ctrl-C).
 */
export async function withDatabase<T>(
  work: (url: string, embedded: boolean) => Promise<T>,
): Promise<T> {
  const db = await resolveDatabaseUrl();
  const onSignal = (signal: NodeJS.Signals) => {
    void db.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  if (db.embedded) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    return await work(db.url, db.embedded);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.stop();
  }
}

/** Applies the committed migrations the database lacks; returns their names. */
export async function applyMigrations(url: string, registry: Registry): Promise<string[]> {
  const ds = await openDataSource(url, registry, { poolSize: 1 });
  try {
    return await migrate(ds);
  } finally {
    await ds.destroy();
  }
}

/**
 * Runs `work` with a model service on the database. The embedded database is migrated first, so
 * that a new user's first command just works; a database named by DATABASE_URL is left as it is
 * (`syncord migrate` migrates it).
 */
export async function withService<T>(
  registry: Registry,
  work: (svc: ModelService) => Promise<T>,
): Promise<T> {
  return withDatabase(async (url, embedded) => {
    if (embedded) {
      const applied = await applyMigrations(url, registry);
      if (applied.length) {
        const n = applied.length;
        process.stderr.write(
          `syncord: migrated the embedded database (${String(n)} migration${n === 1 ? '' : 's'})\n`,
        );
      }
    }
    const pool = openPool(url);
    try {
      return await work(new ModelService(pool.pool, registry));
    } finally {
      await pool.close();
    }
  });
}

/**
 * A connection pool whose close() resolves once every connection is closed: pg-pool's end()
 * resolves before the sockets close, and stopping the embedded server then would kill them and
 * make the pool emit 'error' (with no listener, an uncaught exception).
 */
function openPool(url: string): { pool: pg.Pool; close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  let open = 0;
  let allClosed: (() => void) | undefined;
  pool.on('connect', () => {
    open++;
  });
  pool.on('remove', () => {
    open--;
    if (open === 0) allClosed?.();
  });
  // An idle connection that the server closed: the pool has dropped it already.
  pool.on('error', () => undefined);
  return {
    pool,
    async close() {
      const closed = new Promise<void>((resolve) => {
        allClosed = resolve;
      });
      await pool.end();
      if (open > 0) await closed;
    },
  };
}

// ---- model names -------------------------------------------------------------------------------

const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The names that look like what was typed: a few edits away, or containing it. */
export function closeNames(names: readonly string[], typed: string): string[] {
  const want = squash(typed);
  return names
    .map((name) => {
      const have = squash(name);
      const d = editDistance(want, have);
      const near = d <= Math.max(2, Math.floor(want.length / 3));
      const inside = want.length >= 3 && (have.includes(want) || want.includes(have));
      return { name, d, close: near || inside };
    })
    .filter((c) => c.close)
    .sort((a, b) => a.d - b.d)
    .slice(0, 6)
    .map((c) => c.name);
}

/** A model by the name a user typed: any case, snake_case or plural (`network`, `trust_domains`). */
export function resolveModel(registry: Registry, typed: string): ResolvedModel {
  const names = registry.models().map((m) => m.name);
  const want = squash(typed);
  const forms = [want];
  if (want.endsWith('ies')) forms.push(`${want.slice(0, -3)}y`);
  if (want.endsWith('es')) forms.push(want.slice(0, -2));
  if (want.endsWith('s')) forms.push(want.slice(0, -1));
  for (const form of forms) {
    const hit = names.find((n) => squash(n) === form);
    if (hit) return registry.get(hit);
  }
  const close = closeNames(names, typed);
  throw new CliError(
    close.length
      ? `no model named "${typed}"; did you mean ${close.join(', ')}?`
      : `no model named "${typed}" (\`syncord models\` lists them)`,
  );
}

function plural(name: string): string {
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(name)) return `${name}es`;
  return `${name}s`;
}

// ---- fields and values -------------------------------------------------------------------------

interface FieldRef {
  /** The column (and object key): `network_id` for the reference `network`. */
  key: string;
  def: FieldDef;
}

const NAME_FIELD: FieldDef = { type: 'string' };
const FLAG_FIELD: FieldDef = { type: 'boolean' };

/** The field a key names: a field (`network`), its column (`network_id`) or user bookkeeping. */
function fieldOf(model: ResolvedModel, key: string): FieldRef | undefined {
  if (key === 'name') return { key, def: NAME_FIELD };
  if (key === 'no_sync' || key === 'write_protect') return { key, def: FLAG_FIELD };
  const policy = POLICY_DEFS[key];
  if (policy) return { key, def: policy };
  for (const [name, def] of Object.entries(model.allFields)) {
    const column = columnOf(name, def);
    if (key === name || key === column) return { key: column, def };
  }
  return undefined;
}

/** Finds objects by name, one list call per (model, name) however often it is asked. */
class Names {
  private readonly cache = new Map<string, Promise<{ items: ModelObject[]; more: boolean }>>();

  constructor(private readonly svc: ModelService) {}

  find(
    model: string,
    name: string,
    includeDeleted = false,
  ): Promise<{ items: ModelObject[]; more: boolean }> {
    const key = JSON.stringify([model, name, includeDeleted]);
    let found = this.cache.get(key);
    if (!found) {
      found = this.svc
        .list(model, {
          filter: [{ field: 'name', op: 'eq', value: name }],
          pageSize: 20,
          includeDeleted,
        })
        .then((page) => ({ items: page.items, more: page.nextPageToken !== null }));
      this.cache.set(key, found);
    }
    return found;
  }

  /** The id of the one object of `model` with this name, or why there is none. */
  async id(model: string, name: string): Promise<{ id: number } | { reason: string }> {
    const { items, more } = await this.find(model, name);
    if (items.length === 1) return { id: items[0]!.id };
    if (items.length === 0) return { reason: `no ${model} named "${name}"` };
    const ids = items.map((o) => objectRef(o).replace(/ \(.*\)$/, '')).join(', ');
    return { reason: `the name "${name}" is ambiguous: ${ids}${more ? ', ...' : ''}; give the id` };
  }
}

/** What tells apart objects of the same name: the name's scope and the unique sets with it. */
function describeHolder(model: ResolvedModel, obj: ModelObject): string {
  const columns: string[] = [];
  const add = (field: string) => {
    const def = model.allFields[field];
    const column = def ? columnOf(field, def) : field;
    if (!columns.includes(column)) columns.push(column);
  };
  if (model.scope) add(model.scope);
  for (const set of model.uniqueTogether ?? []) {
    if (set.includes('name')) for (const f of set) if (f !== 'name') add(f);
  }
  const parts = columns.map((c) => `${c} ${String(obj[c])}`);
  if (obj.deleted_at !== null && obj.deleted_at !== undefined) parts.push('deleted');
  return `${obj.leaf_model} ${String(obj.id)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** An object named by id or by name; an ambiguous name is an error listing the candidates. */
async function findObject(
  svc: ModelService,
  names: Names,
  model: ResolvedModel,
  ref: string,
  includeDeleted = false,
): Promise<ModelObject> {
  if (/^\d+$/.test(ref)) {
    try {
      return await svc.get(model.name, Number(ref), { includeDeleted });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      // A name made of digits.
      const named = await names.find(model.name, ref, includeDeleted);
      if (named.items.length === 1) return named.items[0]!;
      throw err;
    }
  }
  const { items, more } = await names.find(model.name, ref, includeDeleted);
  if (items.length === 1) return items[0]!;
  if (items.length === 0) throw new CliError(`no ${model.name} named "${ref}"`);
  throw new CliError(
    `${String(items.length)}${more ? '+' : ''} ${plural(model.name)} are named "${ref}": ` +
      `${items.map((o) => describeHolder(model, o)).join(', ')}; give the id`,
  );
}

/** `field=value` arguments, in order; a field given twice is an error. */
function parseAssignments(args: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at < 1) throw new CliError(`"${arg}": expected field=value`);
    const key = arg.slice(0, at).trim();
    if (out.some(([k]) => k === key)) throw new CliError(`${key} is given twice`);
    out.push([key, arg.slice(at + 1)]);
  }
  return out;
}

type Parsed = { value: unknown } | { reason: string } | { name: string };

/**
 * A value typed on the command line, read by its field's type: `null` is null, integers and
 * floats are numbers, `true`/`false` booleans, JSON fields JSON, and a reference an id or a name.
 * What does not parse is passed on as text, for the service to say what is wrong with it.
 */
function parseText(def: FieldDef, raw: string): Parsed {
  if (raw === 'null') return { value: null };
  switch (def.type) {
    case 'integer':
      return { value: /^-?\d+$/.test(raw) ? Number(raw) : raw };
    case 'float':
      return { value: raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw };
    case 'boolean':
      return { value: /^(true|false)$/i.test(raw) ? raw.toLowerCase() === 'true' : raw };
    case 'json':
      try {
        return { value: JSON.parse(raw) as unknown };
      } catch (err) {
        return {
          reason: `must be JSON (${err instanceof Error ? err.message : String(err)}); quote a string as '"text"'`,
        };
      }
    case 'reference':
      return /^\d+$/.test(raw) ? { value: Number(raw) } : { name: raw };
    default:
      return { value: raw };
  }
}

interface Prepared {
  values: Record<string, unknown>;
  problems: FieldProblem[];
  /** Columns with a problem found here. */
  bad: Set<string>;
}

/**
 * The values of one object to write: from a file (already typed; references may be names) and
 * from `field=value` arguments (text), references by name looked up.
 */
async function prepare(
  names: Names,
  model: ResolvedModel,
  fromFile: Readonly<Record<string, unknown>>,
  fromArgs: readonly [string, string][],
  index?: number,
): Promise<Prepared> {
  const out: Prepared = { values: {}, problems: [], bad: new Set() };
  const problem = (key: string, reason: string) => {
    out.bad.add(key);
    out.problems.push(index === undefined ? { field: key, reason } : { field: key, reason, index });
  };
  const entries: [string, Parsed, FieldRef | undefined][] = [
    ...Object.entries(fromFile).map(([key, value]): [string, Parsed, FieldRef | undefined] => {
      const f = fieldOf(model, key);
      const byName =
        f?.def.type === 'reference' && typeof value === 'string' && !/^\d+$/.test(value);
      return [key, byName ? { name: value } : { value }, f];
    }),
    ...fromArgs.map(([key, raw]): [string, Parsed, FieldRef | undefined] => {
      const f = fieldOf(model, key);
      return [key, f ? parseText(f.def, raw) : { value: raw }, f];
    }),
  ];
  for (const [key, parsed, f] of entries) {
    if ('reason' in parsed) problem(f?.key ?? key, parsed.reason);
    else if ('name' in parsed && f?.def.reference) {
      const found = await names.id(f.def.reference.model, parsed.name);
      if ('reason' in found) problem(f.key, found.reason);
      else out.values[key] = found.id;
    } else if ('value' in parsed) out.values[key] = parsed.value;
  }
  return out;
}

/**
 * Problems found on the command line (a name that names nothing, bad JSON) come with what the
 * service's own checks say about the other fields, so that every problem is reported at once.
 */
function withOfflineProblems(
  registry: Registry,
  model: ResolvedModel,
  prepared: Prepared,
  current?: ModelObject,
  index?: number,
): FieldProblem[] {
  const rest = Object.fromEntries(
    Object.entries(prepared.values).filter(([k]) => !prepared.bad.has(fieldOf(model, k)?.key ?? k)),
  );
  const leaf = current ? current.leaf_model : model.name;
  const info = modelInfo(registry, registry.has(leaf) ? leaf : model.name);
  const others = checkUserWrite(info, rest, current, index).problems.filter(
    (p) => !prepared.bad.has(p.field),
  );
  const order = ['name', ...Object.entries(model.allFields).map(([n, d]) => columnOf(n, d))];
  const rank = (p: FieldProblem) => {
    const i = order.indexOf(p.field);
    return (p.index ?? 0) * 1000 + (i < 0 ? order.length : i);
  };
  return [...prepared.problems, ...others].sort((a, b) => rank(a) - rank(b));
}

/** One object or a list of them from a YAML or JSON file (`-` is standard input). */
function readObjects(file: string): { objects: Record<string, unknown>[]; many: boolean } {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const source = file === '-' ? 'stdin' : file;
  const docs = YAML.parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw new CliError(`${source}: ${error.message.trimEnd()}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  const many = values.length > 1 || Array.isArray(values[0]);
  const objects = (
    values.length === 1 && Array.isArray(values[0]) ? values[0] : values
  ) as unknown[];
  if (objects.length === 0) throw new CliError(`${source}: no objects in it`);
  objects.forEach((o, i) => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      throw new CliError(
        `${source}: ${many ? `item ${String(i)}` : 'the content'} is not an object`,
      );
    }
  });
  return { objects: objects as Record<string, unknown>[], many };
}

// ---- listing -----------------------------------------------------------------------------------

const FILTER = /^([A-Za-z_][A-Za-z0-9_]*)\s*(!=|>=|<=|==|=|>|<|~)(.*)$/s;
const FILTER_OPS: Record<string, FilterOp> = {
  '=': 'eq',
  '==': 'eq',
  '!=': 'ne',
  '>=': 'ge',
  '<=': 'le',
  '>': 'gt',
  '<': 'lt',
  '~': 'contains',
};

/** `--filter` expressions as the service's filters; references may be given by name. */
async function parseFilters(
  names: Names,
  model: ResolvedModel,
  exprs: readonly string[],
): Promise<Filter[]> {
  const filters: Filter[] = [];
  for (const expr of exprs) {
    const m = FILTER.exec(expr);
    if (!m) {
      throw new CliError(
        `--filter ${expr}: expected field=value, field!=value, field>=value, field<=value, field>value, field<value or field~text`,
      );
    }
    const [, field, sym, raw] = m as unknown as [string, string, string, string];
    let op = FILTER_OPS[sym]!;
    let value: unknown = raw;
    const def = fieldOf(model, field)?.def;
    if (op === 'contains') {
      // A substring is text as typed.
    } else if (raw === 'null') {
      value = null;
    } else if (def?.type === 'boolean') {
      value = raw.toLowerCase();
    } else if (def?.reference && !/^\d+$/.test(raw) && (op === 'eq' || op === 'ne')) {
      const { items } = await names.find(def.reference.model, raw);
      if (items.length === 0) {
        throw new CliError(`--filter ${expr}: no ${def.reference.model} named "${raw}"`);
      }
      if (items.length > 1 && op === 'ne') {
        throw new CliError(`--filter ${expr}: "${raw}" names several objects; give the id`);
      }
      value = items.length === 1 ? items[0]!.id : items.map((o) => o.id);
      if (items.length > 1) op = 'in';
    }
    filters.push({ field, op, value });
  }
  return filters;
}

/** `--sort name,-created_at`: ascending, or descending with a leading `-`. */
function parseSort(specs: readonly string[]): { field: string; desc: boolean }[] {
  return specs
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => ({
      field: s.replace(/^[-+]/, ''),
      desc: s.startsWith('-'),
    }));
}

/** A listing's problems named by the options the user gave, not by the service's parameters. */
function inOptionTerms(
  err: unknown,
  exprs: readonly string[],
  sort: readonly { field: string; desc: boolean }[],
): unknown {
  if (!(err instanceof ValidationError) || err.constructor !== ValidationError) return err;
  const renamed = err.errors.map((e) => {
    const f = /^filter\[(\d+)\]/.exec(e.field);
    const o = /^order_by\[(\d+)\]/.exec(e.field);
    let field = e.field;
    if (f) field = `--filter ${exprs[Number(f[1])] ?? ''}`;
    else if (o) {
      const s = sort[Number(o[1])];
      field = `--sort ${s ? `${s.desc ? '-' : ''}${s.field}` : ''}`;
    } else if (e.field === 'page_size') field = '--limit';
    else if (e.field === 'page_token') field = '--page-token';
    return { ...e, field };
  });
  return new ValidationError(err.model, renamed);
}

interface ListFlags {
  filter?: string[];
  sort?: string[];
  limit?: number;
  all?: boolean;
  deleted?: boolean;
  pageToken?: string;
  output: OutputFormat;
}

async function listObjects(
  svc: ModelService,
  names: Names,
  model: ResolvedModel,
  flags: ListFlags,
): Promise<void> {
  const sort = parseSort(flags.sort ?? []);
  const options: ListOptions = {
    filter: await parseFilters(names, model, flags.filter ?? []),
    orderBy: sort,
    includeDeleted: flags.deleted === true,
  };
  if (flags.limit !== undefined) options.pageSize = flags.limit;
  const items: ModelObject[] = [];
  let token: string | null = flags.pageToken ?? null;
  do {
    const page = await svc
      .list(model.name, token ? { ...options, pageToken: token } : options)
      .catch((err: unknown) => {
        throw inOptionTerms(err, flags.filter ?? [], sort);
      });
    items.push(...page.items);
    token = page.nextPageToken;
  } while (flags.all && token);

  if (flags.output === 'json' || flags.output === 'yaml') {
    process.stdout.write(serialize(items, flags.output));
  } else if (items.length === 0) {
    process.stderr.write(`No ${plural(model.name)} found.\n`);
  } else {
    process.stdout.write(formatObjects(model, items, flags.output));
  }
  if (token) {
    process.stderr.write(
      `syncord: more ${plural(model.name)} follow: --all lists them all; --page-token ${token} (with the same filters and sort) shows the next page\n`,
    );
  }
}

// ---- the commands ------------------------------------------------------------------------------

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function outputOption(defaultTable: boolean): Option {
  const option = new Option('-o, --output <format>', 'table, wide, json or yaml').choices(
    OUTPUT_FORMATS,
  );
  return defaultTable ? option.default('table') : option;
}

function listOptions(cmd: Command): Command {
  return cmd
    .option(
      '--filter <expr>',
      'field=value, field!=value, field>=value, field<=value, field>value, field<value, field~text (repeatable)',
      collect,
    )
    .option('--sort <fields>', 'sort keys, e.g. name,-created_at (- for descending)', collect)
    .option('--limit <n>', 'objects per page (default 100, at most 5000)', wholeNumber)
    .option('--all', 'list every page, not just the first')
    .option('--page-token <token>', 'continue a listing from where a page ended')
    .option('--deleted', 'include soft-deleted objects (still being torn down)')
    .addOption(outputOption(true));
}

const LIST_HELP = `
Filters (repeatable; quote them for the shell):
  field=value  field!=value  field>=value  field<=value  field>value  field<value  field~text
  field=null and field!=null match absent and present values; a reference may be given by
  name (--filter network=mgmt).

Examples:
  syncord list network --filter type=PRIVATE --sort -created_at
  syncord list port --filter network=mgmt -o wide
  syncord list site --limit 500 --all -o json`;

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Registers the model commands on the program. */
export function addModelCommands(program: Command): void {
  listOptions(
    program
      .command('list <model>')
      .description('list objects of a model (a page of 100 unless --limit or --all)'),
  )
    .addHelpText('after', LIST_HELP)
    .action(async (typed: string, flags: ListFlags) => {
      const registry = defaultRegistry();
      const model = resolveModel(registry, typed);
      await withService(registry, (svc) => listObjects(svc, new Names(svc), model, flags));
    });

  listOptions(
    program
      .command('get <model> [id-or-name]')
      .description('show an object by id or name (without one, list the model as `list` does)'),
  )
    .addHelpText('after', LIST_HELP)
    .action(async (typed: string, ref: string | undefined, flags: ListFlags) => {
      const registry = defaultRegistry();
      const model = resolveModel(registry, typed);
      if (ref !== undefined) {
        const listOnly = [
          flags.filter ? '--filter' : '',
          flags.sort ? '--sort' : '',
          flags.limit !== undefined ? '--limit' : '',
          flags.all ? '--all' : '',
          flags.pageToken !== undefined ? '--page-token' : '',
        ].filter(Boolean);
        if (listOnly.length) {
          throw new CliError(`${listOnly.join(', ')}: for lists; give no id or name`);
        }
      }
      await withService(registry, async (svc) => {
        const names = new Names(svc);
        if (ref === undefined) {
          await listObjects(svc, names, model, flags);
          return;
        }
        const obj = await findObject(svc, names, model, ref, flags.deleted === true);
        const leaf = registry.has(obj.leaf_model) ? registry.get(obj.leaf_model) : model;
        print(formatObjects(leaf, obj, flags.output));
      });
    });

  program
    .command('create <model> [field=value...]')
    .description('create an object (or, with -f, one or a list of objects)')
    .option(
      '-f, --file <file>',
      'a YAML or JSON file with an object or a list of them; - for stdin',
    )
    .addOption(outputOption(false))
    .addHelpText(
      'after',
      `
Values are read by the field's type (syncord describe <model>): numbers, true/false, JSON for
JSON fields, null. A reference is an id or a name: network=mgmt, network=3 or network_id=3.
Arguments given with -f apply to every object of the file.

Examples:
  syncord create site name=co1
  syncord create network name=mgmt subnet=10.8.0.0/24 type=MANAGEMENT_LOCAL
  syncord create port -f ports.yaml -o yaml`,
    )
    .action(
      async (typed: string, args: string[], flags: { file?: string; output?: OutputFormat }) => {
        const registry = defaultRegistry();
        const model = resolveModel(registry, typed);
        const assignments = parseAssignments(args);
        const file = flags.file !== undefined ? readObjects(flags.file) : undefined;
        if (!file && assignments.length === 0) {
          throw new CliError('nothing to create: give field=value arguments or -f <file>');
        }
        await withService(registry, async (svc) => {
          const names = new Names(svc);
          const inputs = file ? file.objects : [{}];
          const many = file?.many === true;
          const prepared: Prepared[] = [];
          for (const [i, input] of inputs.entries()) {
            prepared.push(await prepare(names, model, input, assignments, many ? i : undefined));
          }
          if (prepared.some((p) => p.problems.length)) {
            throw new ValidationError(
              model.name,
              prepared.flatMap((p, i) =>
                withOfflineProblems(registry, model, p, undefined, many ? i : undefined),
              ),
            );
          }
          const created = many
            ? await svc.createMany(
                model.name,
                prepared.map((p) => p.values),
              )
            : [await svc.create(model.name, prepared[0]!.values)];
          if (flags.output) {
            print(formatObjects(model, many ? created : created[0]!, flags.output));
          } else {
            for (const obj of created) print(`created ${objectRef(obj)}`);
          }
        });
      },
    );

  program
    .command('update <model> <id-or-name> <field=value...>')
    .description('change fields of an object')
    .option(
      '--expected-version <n>',
      'refuse the change unless the object is at this version',
      wholeNumber,
    )
    .addOption(outputOption(false))
    .addHelpText(
      'after',
      `
Examples:
  syncord update network mgmt mtu=1450 dns_servers="10.8.0.2 10.8.0.3"
  syncord update slice 4 default_image=ubuntu --expected-version 3`,
    )
    .action(
      async (
        typed: string,
        ref: string,
        args: string[],
        flags: { expectedVersion?: number; output?: OutputFormat },
      ) => {
        const registry = defaultRegistry();
        const model = resolveModel(registry, typed);
        const assignments = parseAssignments(args);
        await withService(registry, async (svc) => {
          const names = new Names(svc);
          const current = await findObject(svc, names, model, ref);
          const prepared = await prepare(names, model, {}, assignments);
          if (prepared.problems.length) {
            throw new ValidationError(
              current.leaf_model,
              withOfflineProblems(registry, model, prepared, current),
            );
          }
          const updated = await svc.update(
            model.name,
            current.id,
            prepared.values,
            flags.expectedVersion === undefined ? {} : { expectedVersion: flags.expectedVersion },
          );
          if (flags.output) print(formatObjects(model, updated, flags.output));
          else if (updated.version === current.version) {
            print(`${objectRef(updated)} unchanged (version ${String(updated.version)})`);
          } else print(`updated ${objectRef(updated)}: version ${String(updated.version)}`);
        });
      },
    );

  program
    .command('delete <model> <id-or-name>')
    .description('delete an object, and what cascading references delete with it')
    .option(
      '--expected-version <n>',
      'refuse the delete unless the object is at this version',
      wholeNumber,
    )
    .addOption(
      new Option(
        '-o, --output <format>',
        'json or yaml: the deleted object and the cascade',
      ).choices(['json', 'yaml']),
    )
    .action(
      async (
        typed: string,
        ref: string,
        flags: { expectedVersion?: number; output?: 'json' | 'yaml' },
      ) => {
        const registry = defaultRegistry();
        const model = resolveModel(registry, typed);
        await withService(registry, async (svc) => {
          const target = await findObject(svc, new Names(svc), model, ref);
          const result = await svc.delete(
            model.name,
            target.id,
            flags.expectedVersion === undefined ? {} : { expectedVersion: flags.expectedVersion },
          );
          if (flags.output) {
            print(serialize(result, flags.output));
            return;
          }
          print(`deleted ${objectRef(result.object)}`);
          if (result.cascaded.length) {
            const named = await cascadedNames(svc, result.cascaded);
            print(
              `deleted with it, by cascading references (${String(result.cascaded.length)}):\n` +
                result.cascaded
                  .map(
                    (c) =>
                      `  ${named.get(`${c.model} ${String(c.id)}`) ?? `${c.model} ${String(c.id)}`}`,
                  )
                  .join('\n'),
            );
          }
        });
      },
    );

  program
    .command('models')
    .description('list the models: name, package and description')
    .addOption(new Option('-o, --output <format>', 'json or yaml').choices(['json', 'yaml']))
    .action((flags: { output?: 'json' | 'yaml' }) => {
      const registry = defaultRegistry();
      if (flags.output) {
        const models = registry.models().map((m) => ({
          name: m.name,
          package: m.package,
          extends: m.extends ?? null,
          description: m.description,
        }));
        print(serialize(models, flags.output));
      } else print(modelsTable(registry));
    });

  program
    .command('describe <model>')
    .description("a model's fields: type, required, default, choices, references")
    .action((typed: string) => {
      const registry = defaultRegistry();
      print(describeModel(registry, resolveModel(registry, typed)));
    });
}

/** `Port 12 (net1)` for each cascaded object, read back (deleted objects included). */
async function cascadedNames(
  svc: ModelService,
  cascaded: readonly { model: string; id: number }[],
): Promise<Map<string, string>> {
  const byModel = new Map<string, number[]>();
  for (const c of cascaded) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c.id]);
  const out = new Map<string, string>();
  for (const [model, ids] of byModel) {
    for (let i = 0; i < ids.length; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      const page = await svc.list(model, {
        filter: [{ field: 'id', op: 'in', value: chunk }],
        includeDeleted: true,
        pageSize: 5000,
      });
      for (const o of page.items) out.set(`${model} ${String(o.id)}`, objectRef(o, model));
    }
  }
  return out;
}
