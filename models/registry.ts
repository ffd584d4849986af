// The model registry: one typed definition per model, the single place a model or a field is
// declared. The PostgreSQL schema (through TypeORM entity schemas and migrations), validation,
// the synchronizer's dependency graph and, later, the protos, TOSCA types and GUI forms are all
// derived from it. Service packages register their models through the same call a third party
// would use: `registry.registerPackage(...)`.

export type FieldType =
  | 'string'
  | 'text'
  | 'integer'
  | 'float'
  | 'boolean'
  | 'json'
  | 'timestamp'
  | 'reference'
  | 'ip'
  | 'cidr'
  | 'mac'
  | 'password';

export type OnDelete = 'cascade' | 'restrict' | 'set-null';

export interface FieldDef {
  type: FieldType;
  /** One line for operators: shown in forms, proto comments and TOSCA types. */
  help?: string;
  /** Must be given on create (a default makes it optional). */
  required?: boolean;
  default?: string | number | boolean | null | Record<string, unknown> | unknown[];
  /** Allowed values (strings). */
  choices?: readonly string[];
  /** For strings: maximum length (default 256; text is unbounded). */
  maxLength?: number;
  /** For strings: a pattern and the reason shown when a value does not match it. */
  pattern?: { regex: RegExp; reason: string };
  /** For integers and floats. */
  min?: number;
  max?: number;
  /** XOS's feedback state: only the synchronizer writes it; the API shows it read-only. */
  feedback?: boolean;
  /** Set on create, refused on update. */
  immutable?: boolean;
  /**
   * A credential (a password, a kubeconfig with its token, an application credential's secret)
   * stored as given because the synchronizer needs it, but write-only everywhere else: the API,
   * the gateway, watches and the GUI never return it, and it cannot be filtered or sorted on
   * (a filter would let a caller guess it).
   */
  secret?: boolean;
  /** For references: the model referred to (any model of its hierarchy) and what a delete does. */
  reference?: { model: string; onDelete: OnDelete };
}

export interface ModelDef {
  name: string;
  /** The package that registered it: core, kubernetes, openstack, vsg, vnf, ... */
  package: string;
  description: string;
  /** Single-table inheritance: the model is a kind of this one and shares its table. */
  extends?: string;
  /** Whether `name` must be given (default true). */
  nameRequired?: boolean;
  /** Whether `name` is unique among live objects of the table (default true). */
  nameUnique?: boolean;
  /** Names are unique per value of this reference field (e.g. trust_domain), not globally. */
  scope?: string;
  /** Further sets of fields unique together among live objects. */
  uniqueTogether?: readonly (readonly string[])[];
  fields: Record<string, FieldDef>;
  /** Defaults computed from other fields (keyed by field name), applied on create to empty fields. */
  derivedDefaults?: (values: Readonly<Record<string, unknown>>) => Record<string, unknown>;
  /** Cross-field checks; each problem names its field. */
  check?: (values: Readonly<Record<string, unknown>>) => { field: string; reason: string }[];
}

/** A model with everything resolved: inherited fields, its table, its hierarchy. */
export interface ResolvedModel extends ModelDef {
  /** Own and inherited fields (not the bookkeeping columns). */
  allFields: Record<string, FieldDef>;
  /** The root of its hierarchy: the model whose table it shares. */
  root: string;
  table: string;
  /** Itself and every model that extends it, directly or not. */
  family: string[];
  /** Whether its table holds several models (a leaf_model column tells them apart). */
  polymorphic: boolean;
}

/** snake_case of a model name: ServiceInstance -> service_instance, VSGService -> vsg_service. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Column names every model has; a model may not declare a field with one of these names. */
export const BOOKKEEPING = [
  'id',
  'name',
  'created_at',
  'updated_at',
  'version',
  'synced_version',
  'backend_code',
  'backend_status',
  'failures',
  'next_attempt_at',
  'policed_version',
  'policy_code',
  'policy_status',
  'deleted_at',
  'no_sync',
  'write_protect',
  'management_policy',
  'deletion_policy',
  'backend_handle',
  'leaf_model',
] as const;

/** Bookkeeping a user may set through the model service (the rest belongs to the system). */
export const USER_BOOKKEEPING = [
  'name',
  'no_sync',
  'write_protect',
  'management_policy',
  'deletion_policy',
] as const;

/**
 * What the synchronizer may do to an object's backend objects: `full` (create, update, repair
 * drift), `observe` (only read them into status; never write, create, mark or delete them),
 * `create-only` (create them once; later edits are not applied).
 */
export const MANAGEMENT_POLICIES = ['full', 'observe', 'create-only'] as const;
export type ManagementPolicy = (typeof MANAGEMENT_POLICIES)[number];
/**
 * What deleting the model does to its backend objects: `delete` (tear them down) or `orphan`
 * (take Syncord's owner marks off and leave them running; addresses they use stay held).
 */
export const DELETION_POLICIES = ['delete', 'orphan'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/** Bookkeeping only the synchronizer writes; such writes never bump `version`. */
export const SYNC_BOOKKEEPING = [
  'synced_version',
  'backend_code',
  'backend_status',
  'failures',
  'next_attempt_at',
  'policed_version',
  'policy_code',
  'policy_status',
] as const;

function combineChecks(a: ModelDef['check'], b: ModelDef['check']): ModelDef['check'] {
  if (!a || !b) return a ?? b;
  return (v) => [...a(v), ...b(v)];
}

function combineDefaults(
  a: ModelDef['derivedDefaults'],
  b: ModelDef['derivedDefaults'],
): ModelDef['derivedDefaults'] {
  if (!a || !b) return a ?? b;
  return (v) => ({ ...a(v), ...b(v) });
}

export class Registry {
  private readonly defs = new Map<string, ModelDef>();
  private resolvedCache: Map<string, ResolvedModel> | undefined;

  /** Registers a package's models; checked as a whole, so a bad package changes nothing. */
  registerPackage(pkg: string, models: Omit<ModelDef, 'package'>[]): void {
    const before = new Map(this.defs);
    try {
      for (const m of models) {
        if (this.defs.has(m.name)) {
          throw new RegistryError(`model ${m.name} is already registered`);
        }
        this.defs.set(m.name, { ...m, package: pkg });
      }
      this.resolvedCache = undefined;
      this.resolveAll();
    } catch (err) {
      this.defs.clear();
      for (const [k, v] of before) this.defs.set(k, v);
      this.resolvedCache = undefined;
      throw err;
    }
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  get(name: string): ResolvedModel {
    const m = this.resolveAll().get(name);
    if (!m) throw new RegistryError(`no model named ${name}`);
    return m;
  }

  /** Every model, in registration order. */
  models(): ResolvedModel[] {
    return [...this.resolveAll().values()];
  }

  /** Roots of hierarchies: one table each. */
  tables(): ResolvedModel[] {
    return this.models().filter((m) => m.root === m.name);
  }

  /** The models a model refers to (its references' targets), for dependency order. */
  dependencies(name: string): string[] {
    const m = this.get(name);
    const deps = new Set<string>();
    for (const f of Object.values(m.allFields)) {
      if (f.type === 'reference' && f.reference && f.reference.model !== name) {
        deps.add(f.reference.model);
      }
    }
    return [...deps];
  }

  private resolveAll(): Map<string, ResolvedModel> {
    if (this.resolvedCache) return this.resolvedCache;
    const out = new Map<string, ResolvedModel>();
    const resolve = (name: string, seen: string[]): ResolvedModel => {
      const done = out.get(name);
      if (done) return done;
      const def = this.defs.get(name);
      if (!def) throw new RegistryError(`${seen.at(-1) ?? '?'} extends unknown model ${name}`);
      if (seen.includes(name)) {
        throw new RegistryError(`inheritance cycle: ${[...seen, name].join(' -> ')}`);
      }
      const parent = def.extends ? resolve(def.extends, [...seen, name]) : undefined;
      for (const field of Object.keys(def.fields)) {
        if ((BOOKKEEPING as readonly string[]).includes(field)) {
          throw new RegistryError(`${name}.${field}: the name of a bookkeeping column`);
        }
        if (parent && field in parent.allFields) {
          throw new RegistryError(`${name}.${field}: already a field of ${parent.name}`);
        }
        if (!/^[a-z][a-zA-Z0-9_]*$/.test(field)) {
          throw new RegistryError(`${name}.${field}: field names are identifiers`);
        }
      }
      const root = parent ? parent.root : name;
      const resolved: ResolvedModel = {
        ...def,
        scope: def.scope ?? parent?.scope,
        nameRequired: def.nameRequired ?? parent?.nameRequired ?? true,
        // A subclass keeps its parent's checks and computed defaults, and adds its own.
        check: combineChecks(parent?.check, def.check),
        derivedDefaults: combineDefaults(parent?.derivedDefaults, def.derivedDefaults),
        nameUnique: def.nameUnique ?? parent?.nameUnique ?? true,
        allFields: { ...(parent?.allFields ?? {}), ...def.fields },
        root,
        table: snakeCase(root),
        family: [name],
        polymorphic: false,
      };
      out.set(name, resolved);
      return resolved;
    };
    for (const name of this.defs.keys()) resolve(name, []);
    // Families and polymorphism, now that every model is known.
    for (const m of out.values()) {
      let p = m.extends ? out.get(m.extends) : undefined;
      while (p) {
        p.family.push(m.name);
        p = p.extends ? out.get(p.extends) : undefined;
      }
    }
    for (const m of out.values()) {
      const root = out.get(m.root);
      m.polymorphic = (root?.family.length ?? 1) > 1;
    }
    // References, scopes and unique sets must name things that exist.
    for (const m of out.values()) {
      for (const [fname, f] of Object.entries(m.allFields)) {
        if (f.type === 'reference') {
          if (!f.reference)
            throw new RegistryError(`${m.name}.${fname}: a reference needs a model`);
          if (!out.has(f.reference.model)) {
            throw new RegistryError(
              `${m.name}.${fname}: refers to unknown model ${f.reference.model}`,
            );
          }
          if (f.reference.onDelete === 'set-null' && f.required) {
            throw new RegistryError(`${m.name}.${fname}: a required reference cannot be set-null`);
          }
        }
        if (f.choices && f.default !== undefined && f.default !== null) {
          if (typeof f.default !== 'string' || !f.choices.includes(f.default)) {
            throw new RegistryError(`${m.name}.${fname}: default is not one of its choices`);
          }
        }
      }
      if (m.scope) {
        const s = m.allFields[m.scope];
        if (s?.type !== 'reference' || !s.required) {
          throw new RegistryError(`${m.name}: scope ${m.scope} must be a required reference`);
        }
      }
      for (const set of m.uniqueTogether ?? []) {
        for (const f of set) {
          if (!(f in m.allFields) && f !== 'name') {
            throw new RegistryError(`${m.name}: unique set names unknown field ${f}`);
          }
        }
      }
    }
    // Models sharing a table share a column per field name: the definitions must agree.
    const columns = new Map<string, { model: string; field: FieldDef }>();
    for (const m of out.values()) {
      for (const [fname, f] of Object.entries(m.fields)) {
        const key = `${m.root}.${fname}`;
        const other = columns.get(key);
        if (!other) {
          columns.set(key, { model: m.name, field: f });
          continue;
        }
        const a = other.field;
        if (
          a.type !== f.type ||
          a.reference?.model !== f.reference?.model ||
          a.reference?.onDelete !== f.reference?.onDelete
        ) {
          throw new RegistryError(
            `${m.name}.${fname} and ${other.model}.${fname} share a column in ${snakeCase(m.root)} but differ in type or reference`,
          );
        }
      }
    }
    this.resolvedCache = out;
    return out;
  }
}
