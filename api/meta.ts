// GET /api/v1/models: the registry as JSON, for the GUI's generated tables and forms. Fields are
// named as objects carry them (`name`: owner_id) and as the registry declares them (`field`:
// owner); the bookkeeping every model has is listed first, marked `bookkeeping`.
import type { FieldDef, Registry, ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';
import { POLICY_DEFS } from '../models/validate.js';
import { BOOKKEEPING_FIELDS } from './protogen.js';

export interface FieldMeta {
  name: string;
  field: string;
  /**
   * string, text, integer, float, boolean, json, ip, cidr, mac, timestamp, choice (a string
   * with `choices`), reference (to `reference`), password (write-only: never returned).
   */
  type: string;
  required: boolean;
  read_only: boolean;
  feedback: boolean;
  bookkeeping: boolean;
  /** Set on create only. */
  immutable: boolean;
  // Present only when the field has them:
  default?: unknown;
  choices?: string[];
  reference?: string;
  max_length?: number;
  min?: number;
  max?: number;
  help?: string;
  /** A credential: write-only (objects never carry it); a form sets it, a page shows it hidden. */
  secret?: boolean;
}

export interface ModelMeta {
  name: string;
  package: string;
  description: string;
  parent: string | null;
  /** The registry declares no abstract models: every model can be created. */
  abstract: boolean;
  family: string[];
  /** Whether a synchronizer step reconciles its objects (else the GUI's badge is "no sync"). */
  synced: boolean;
  /** Whether a model policy derives objects from it. */
  policed: boolean;
  name_required: boolean;
  name_unique: boolean;
  /** Names are unique per value of this field, when not globally. */
  scope: string | null;
  unique_together: string[][];
  fields: FieldMeta[];
}

/** The column types' limits, as models/schema.ts makes the columns. */
function maxLength(def: FieldDef): number | undefined {
  switch (def.type) {
    case 'string':
    case 'password':
      return def.maxLength ?? 256;
    case 'ip':
    case 'cidr':
      return 64;
    case 'mac':
      return 17;
    default:
      return undefined;
  }
}

function fieldMeta(field: string, def: FieldDef): FieldMeta {
  const length = maxLength(def);
  return {
    name: columnOf(field, def),
    field,
    type: def.choices ? 'choice' : def.type,
    required: def.required === true && def.default === undefined,
    read_only: def.feedback === true,
    feedback: def.feedback === true,
    bookkeeping: false,
    immutable: def.immutable === true,
    ...(def.default !== undefined ? { default: def.default } : {}),
    ...(def.choices ? { choices: [...def.choices] } : {}),
    ...(def.reference ? { reference: def.reference.model } : {}),
    ...(length !== undefined ? { max_length: length } : {}),
    ...(def.min !== undefined ? { min: def.min } : {}),
    ...(def.max !== undefined ? { max: def.max } : {}),
    ...(def.help ? { help: def.help } : {}),
    ...(def.secret === true ? { secret: true } : {}),
  };
}

const BOOKKEEPING_TYPES: Record<string, string> = {
  int32: 'integer',
  string: 'string',
  bool: 'boolean',
  'google.protobuf.Timestamp': 'timestamp',
  'google.protobuf.Value': 'json',
};

function bookkeepingMeta(m: ResolvedModel): FieldMeta[] {
  return BOOKKEEPING_FIELDS.map((b) => ({
    name: b.name,
    field: b.name,
    type: BOOKKEEPING_TYPES[b.type] ?? 'string',
    required: b.name === 'name' && m.nameRequired === true,
    read_only: b.readOnly,
    feedback: false,
    bookkeeping: true,
    immutable: false,
    ...(b.name === 'no_sync' || b.name === 'write_protect' ? { default: false } : {}),
    ...(POLICY_DEFS[b.name]
      ? {
          type: 'choice',
          default: POLICY_DEFS[b.name]!.default,
          choices: [...(POLICY_DEFS[b.name]!.choices ?? [])],
        }
      : {}),
    ...(b.name === 'name' ? { max_length: 256 } : {}),
    ...(b.comment ? { help: b.comment } : {}),
  }));
}

/** The registry as the GUI reads it; `synced` and `policed` name the models steps and policies observe. */
export function modelsMeta(
  registry: Registry,
  synced: ReadonlySet<string>,
  policed: ReadonlySet<string>,
): { models: ModelMeta[] } {
  return {
    models: registry.models().map((m) => ({
      name: m.name,
      package: m.package,
      description: m.description,
      parent: m.extends ?? null,
      abstract: false,
      family: [...m.family],
      synced: synced.has(m.name),
      policed: policed.has(m.name),
      name_required: m.nameRequired === true,
      name_unique: m.nameUnique !== false,
      scope: m.scope ?? null,
      unique_together: (m.uniqueTogether ?? []).map((set) => [...set]),
      fields: [
        ...bookkeepingMeta(m),
        ...Object.entries(m.allFields).map(([field, def]) => fieldMeta(field, def)),
      ],
    })),
  };
}

/** The models whose objects something observes: each named model and the models extending it. */
export function observedModels(registry: Registry, observes: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of observes) {
    if (registry.has(name)) for (const m of registry.get(name).family) out.add(m);
  }
  return out;
}
