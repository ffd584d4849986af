// TOSCA recipes as xos-tosca read them: `tosca_definitions_version`, `imports`
// (custom_types/<model>.yaml), `description`, and `topology_template.node_templates`, each with
// `type: tosca.nodes.<Model>`, `properties` (the model's fields, plus `must-exist` and
// `xos_managed`) and `requirements` naming other templates (`- <field>: {node: <template>,
// relationship: tosca.relationships.BelongsToOne}`). Node types come from the model registry, so
// a new model is loadable at once.
//
// Every problem is found at once and placed at its file, line and column, with the template and
// the field; a recipe with any problem is not applied.
//
// Two parsers: js-yaml reads the recipe (fast: a 5,000-template recipe in tens of milliseconds)
// and the checks run on its plain values, each problem noting the path of the node it is about;
// the `yaml` library, which keeps every node's position but is ten times slower, parses the text
// only when something must be placed (a problem, or an error from the model layer at apply).
import jsyaml from 'js-yaml';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { FieldDef, Registry, ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';
import { coerce, POLICY_DEFS } from '../models/validate.js';

export interface Position {
  file: string;
  line: number;
  col: number;
}

export interface Problem extends Position {
  template?: string;
  field?: string;
  reason: string;
}

export interface Requirement {
  /** The model's reference field, e.g. `owner`. */
  field: string;
  /** The template it names. */
  node: string;
  readonly pos: Position;
}

export interface Template {
  label: string;
  model: string;
  /** Field values by field name (references are requirements), checked against their types. */
  properties: Map<string, { value: unknown; readonly pos: Position }>;
  requirements: Requirement[];
  /** The object must exist already; it is looked up, never created, updated or deleted. */
  mustExist: boolean;
  readonly pos: Position;
}

export interface Recipe {
  file: string;
  description: string;
  /** In an order where every template comes after the ones it requires. */
  templates: Template[];
}

export class RecipeError extends Error {
  constructor(readonly problems: Problem[]) {
    super(
      problems
        .map(
          (p) =>
            `${p.file}:${String(p.line)}:${String(p.col)}: ${p.template ? `${p.template}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.reason}`,
        )
        .join('\n'),
    );
    this.name = 'RecipeError';
  }
}

export const TOSCA_VERSIONS = [
  'tosca_simple_yaml_1_0',
  'tosca_simple_yaml_1_1',
  'tosca_simple_yaml_1_2',
  'tosca_simple_yaml_1_3',
];
export const BELONGS_TO = 'tosca.relationships.BelongsToOne';
/** Properties every node type has besides its model's fields. */
const META_PROPERTIES = new Set(['must-exist', 'xos_managed']);
const USER_BOOKKEEPING: Record<string, FieldDef> = {
  no_sync: { type: 'boolean' },
  write_protect: { type: 'boolean' },
  ...POLICY_DEFS,
};
const SECTIONS = [
  'tosca_definitions_version',
  'imports',
  'description',
  'topology_template',
  'metadata',
];
const TEMPLATE_KEYS = ['type', 'properties', 'requirements', 'description', 'metadata'];

/** The registry's model for a node type `tosca.nodes.<Model>`, case as the registry has it. */
export function modelOfType(registry: Registry, type: string): ResolvedModel | undefined {
  const m = /^tosca\.nodes\.(\w+)$/.exec(type);
  if (!m) return undefined;
  let byName = modelsByLowerName.get(registry);
  if (!byName) {
    byName = new Map(registry.models().map((x) => [x.name.toLowerCase(), x]));
    modelsByLowerName.set(registry, byName);
  }
  return byName.get(m[1]!.toLowerCase());
}
const modelsByLowerName = new WeakMap<Registry, Map<string, ResolvedModel>>();

type Path = (string | number)[];

/** Where a problem is: a node's path, and whether the key (not the value) is meant. */
interface Place {
  path: Path;
  key?: boolean;
}

/** A YAML parser's reason, its first line; a parser's own stack overflow said as what it means. */
const yamlReason = (message: string): string =>
  /Maximum call stack/i.test(message)
    ? 'nested too deeply to read'
    : (message.split('\n')[0] ?? '');

/** Positions of paths in the text, from a `yaml` Document parsed on first need. */
class Locator {
  private doc: Document | undefined;
  private lc: LineCounter | undefined;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private parsed(): { doc: Document; lc: LineCounter } {
    if (!this.doc || !this.lc) {
      this.lc = new LineCounter();
      try {
        this.doc = parseDocument(this.text, { lineCounter: this.lc, uniqueKeys: true });
      } catch (err) {
        // The positioned parser recurses per level of nesting: a document nested thousands
        // deep overflows its stack. Places are then the document's start.
        if (!(err instanceof RangeError)) throw err;
        this.lc = new LineCounter();
        this.doc = parseDocument('', { lineCounter: this.lc });
        this.unplaceable = true;
      }
    }
    return { doc: this.doc, lc: this.lc };
  }

  /** Whether the text could not be parsed with positions (too deeply nested). */
  unplaceable = false;

  /** The YAML errors of the text (syntax, duplicate keys), placed. */
  yamlErrors(): Problem[] {
    const { doc, lc } = this.parsed();
    return doc.errors.map((e) => {
      const p = lc.linePos(e.pos[0]);
      return {
        file: this.file,
        line: p.line,
        col: p.col,
        reason: `not valid YAML: ${yamlReason(e.message)}`,
      };
    });
  }

  /** The position of the node at `path` (its key when asked), else of its nearest ancestor. */
  at(place: Place): Position {
    const { doc, lc } = this.parsed();
    let node: Node | null = doc.contents;
    let found: Node | null = node;
    for (let i = 0; i < place.path.length && node; i++) {
      const seg = place.path[i]!;
      const last = i === place.path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        node = last && place.key ? (pair.key as Node) : (pair.value as Node | null);
        found = node ?? (pair.key as Node);
      } else if ('items' in node && Array.isArray((node as { items: unknown[] }).items)) {
        node = (node as { items: (Node | null)[] }).items[Number(seg)] ?? null;
        if (node) found = node;
      } else break;
    }
    const p = lc.linePos(found?.range?.[0] ?? 0);
    return { file: this.file, line: p.line, col: p.col };
  }
}

/**
 * A template, property or requirement whose `pos` is found on first read: most recipes never
 * need one, and placing costs a parse of the text with positions. Own fields are copied in;
 * `pos` is a getter on the prototype (a per-object defineProperty made each object slow).
 */
class Placed {
  private cached: Position | undefined;
  constructor(
    fields: object,
    private readonly locator: Locator,
    private readonly place: Place,
  ) {
    Object.assign(this, fields);
  }
  get pos(): Position {
    return (this.cached ??= this.locator.at(this.place));
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export function parseRecipe(text: string, file: string, registry: Registry): Recipe {
  const locator = new Locator(text, file);
  let root: unknown;
  try {
    root = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, filename: file });
  } catch (err) {
    // Not valid YAML: the positioned parser says where and why; else js-yaml's own reason and
    // place (e.g. nesting too deep for the positioned parser).
    const errors = locator.yamlErrors();
    if (errors.length) throw new RecipeError(errors);
    if (err instanceof jsyaml.YAMLException) {
      throw new RecipeError([
        {
          file,
          line: err.mark.line + 1,
          col: err.mark.column + 1,
          reason: `not valid YAML: ${yamlReason(err.reason)}`,
        },
      ]);
    }
    const why = err instanceof RangeError ? 'nested too deeply to read' : 'not valid YAML';
    throw new RecipeError([{ ...locator.at({ path: [] }), reason: why }]);
  }
  const found: (Place & Omit<Problem, keyof Position>)[] = [];
  const problem = (
    place: Place | (() => Place),
    reason: string,
    extra: { template?: string; field?: string } = {},
  ) => {
    found.push({ ...(typeof place === 'function' ? place() : place), reason, ...extra });
  };
  const fail = (): never => {
    throw new RecipeError(
      found.map(({ path, key, ...rest }) => ({ ...locator.at({ path, key }), ...rest })),
    );
  };
  if (!isObject(root)) {
    problem({ path: [] }, 'a recipe is a YAML mapping');
    return fail();
  }
  const version = root.tosca_definitions_version;
  if (version === undefined) problem({ path: [] }, 'tosca_definitions_version is missing');
  else if (typeof version !== 'string' || !TOSCA_VERSIONS.includes(version)) {
    problem(
      { path: ['tosca_definitions_version'] },
      `tosca_definitions_version must be one of ${TOSCA_VERSIONS.join(', ')}`,
    );
  }
  for (const key of Object.keys(root)) {
    if (!SECTIONS.includes(key)) {
      problem(
        { path: [key], key: true },
        `unknown section ${key} (expected tosca_definitions_version, imports, description, topology_template)`,
      );
    }
  }
  const imports = root.imports;
  if (imports !== undefined) {
    if (!Array.isArray(imports)) problem({ path: ['imports'] }, 'imports must be a list');
    else {
      imports.forEach((item: unknown, i) => {
        const value = typeof item === 'string' ? item : '';
        const m = /^custom_types\/(\w+)\.yaml$/.exec(value);
        if (!m) {
          problem(
            { path: ['imports', i] },
            `imports: ${value || 'this'} is not custom_types/<model>.yaml`,
          );
        } else if (!modelOfType(registry, `tosca.nodes.${m[1]!}`)) {
          problem({ path: ['imports', i] }, `imports: Syncord has no model ${m[1]!}`);
        }
      });
    }
  }
  const topology = root.topology_template;
  if (!isObject(topology)) {
    problem({ path: ['topology_template'] }, 'topology_template with node_templates is missing');
    return fail();
  }
  const nodes = topology.node_templates;
  if (!isObject(nodes)) {
    problem(
      { path: ['topology_template', 'node_templates'] },
      'topology_template.node_templates must be a mapping of templates',
    );
    return fail();
  }
  const base: Path = ['topology_template', 'node_templates'];
  const templates: Template[] = [];
  const withPos = <T extends object>(obj: T, place: Place): T & { readonly pos: Position } =>
    new Placed(obj, locator, place) as unknown as T & { readonly pos: Position };
  for (const [label, body] of Object.entries(nodes)) {
    const at = (...rest: Path): Path => [...base, label, ...rest];
    const here: Place = { path: at(), key: true };
    if (!isObject(body)) {
      problem(here, 'a node template is a mapping with type, properties and requirements', {
        template: label,
      });
      continue;
    }
    const type = body.type;
    if (type === undefined) {
      problem(here, 'type is missing', { template: label });
      continue;
    }
    const model = typeof type === 'string' ? modelOfType(registry, type) : undefined;
    if (!model) {
      const text = typeof type === 'string' ? type : JSON.stringify(type);
      const name = /^tosca\.nodes\.(\w+)$/.exec(text)?.[1];
      problem(
        { path: at('type') },
        name
          ? `unknown type ${text}: Syncord has no model ${name}`
          : `unknown type ${text} (expected tosca.nodes.<Model>)`,
        { template: label },
      );
      continue;
    }
    for (const k of Object.keys(body)) {
      if (!TEMPLATE_KEYS.includes(k)) {
        problem(
          { path: at(k), key: true },
          `unknown key ${k} (expected type, properties, requirements)`,
          {
            template: label,
          },
        );
      }
    }
    const t: Template = withPos(
      {
        label,
        model: model.name,
        properties: new Map<string, { value: unknown; readonly pos: Position }>(),
        requirements: [] as Requirement[],
        mustExist: false,
      },
      here,
    );
    const props = body.properties;
    if (props !== undefined && props !== null && !isObject(props)) {
      problem({ path: at('properties') }, 'properties must be a mapping', { template: label });
    } else if (props) {
      for (const [name, raw] of Object.entries(props)) {
        const value = raw instanceof Date ? raw.toISOString() : raw;
        const keyPlace: Place = { path: at('properties', name), key: true };
        const valuePlace: Place = { path: keyPlace.path };
        if (name === 'must-exist') {
          if (typeof value !== 'boolean') {
            problem(valuePlace, 'must be true or false', { template: label, field: name });
          } else t.mustExist = value;
          continue;
        }
        if (name === 'xos_managed') {
          // As XOS meant it: false is an object discovered, only mirrored (observe).
          if (typeof value !== 'boolean') {
            problem(valuePlace, 'must be true or false', { template: label, field: name });
          } else if (!value && !Object.hasOwn(props, 'management_policy')) {
            t.properties.set('management_policy', withPos({ value: 'observe' }, keyPlace));
          }
          continue;
        }
        if (META_PROPERTIES.has(name)) continue;
        const def: FieldDef | undefined =
          name === 'name'
            ? { type: 'string', maxLength: 256 }
            : // Own keys only: a property named "constructor" is no field.
              Object.hasOwn(model.allFields, name)
              ? model.allFields[name]
              : Object.hasOwn(USER_BOOKKEEPING, name)
                ? USER_BOOKKEEPING[name]
                : undefined;
        if (!def) {
          problem(keyPlace, `unknown property: ${model.name} has no field ${name}`, {
            template: label,
            field: name,
          });
          continue;
        }
        if (def.type === 'reference') {
          problem(keyPlace, `${name} is a reference: name its template under requirements`, {
            template: label,
            field: name,
          });
          continue;
        }
        if (def.feedback) {
          problem(keyPlace, 'is read-only (the synchronizer reports it)', {
            template: label,
            field: name,
          });
          continue;
        }
        const c = coerce(def, value);
        if ('reason' in c) {
          problem(value === null ? keyPlace : valuePlace, c.reason, {
            template: label,
            field: name,
          });
          continue;
        }
        t.properties.set(name, withPos({ value: c.value }, keyPlace));
      }
    }
    // A template named model#name gives the object its name when the properties do not.
    if (!t.properties.has('name') && label.includes('#')) {
      t.properties.set('name', withPos({ value: label.slice(label.indexOf('#') + 1) }, here));
    }
    const reqs = body.requirements;
    if (reqs !== undefined && reqs !== null && !Array.isArray(reqs)) {
      problem({ path: at('requirements') }, 'requirements must be a list', { template: label });
    } else if (reqs) {
      reqs.forEach((item: unknown, i) => {
        if (!isObject(item) || Object.keys(item).length !== 1) {
          problem(
            { path: at('requirements', i) },
            'a requirement is - <field>: {node: <template>}',
            {
              template: label,
            },
          );
          return;
        }
        const [field, spec] = Object.entries(item)[0]!;
        const fieldPlace: Place = { path: at('requirements', i, field), key: true };
        const def = model.allFields[field];
        if (!def || def.type !== 'reference') {
          problem(fieldPlace, `${model.name} has no reference field ${field}`, {
            template: label,
            field,
          });
          return;
        }
        let node: string | undefined;
        if (typeof spec === 'string') node = spec;
        else if (isObject(spec)) {
          node = typeof spec.node === 'string' ? spec.node : undefined;
          const rel = spec.relationship;
          if (rel !== undefined && rel !== BELONGS_TO) {
            problem(
              { path: at('requirements', i, field, 'relationship') },
              `relationship ${typeof rel === 'string' ? rel : JSON.stringify(rel)}: only ${BELONGS_TO}`,
              { template: label, field },
            );
          }
        }
        if (!node) {
          problem(fieldPlace, 'names no node', { template: label, field });
          return;
        }
        t.requirements.push(withPos({ field, node }, fieldPlace));
      });
    }
    templates.push(t);
  }
  // Requirements name templates of the right model.
  const byLabel = new Map(templates.map((t) => [t.label, t]));
  for (const t of templates) {
    const m = registry.get(t.model);
    const tPlace: Place = { path: [...base, t.label], key: true };
    t.requirements.forEach((r) => {
      const target = byLabel.get(r.node);
      const place = () => placeOfRequirement(base, t.label, nodes, r);
      if (!target) {
        problem(place, `requires ${r.node}, which is not a template of this recipe`, {
          template: t.label,
          field: r.field,
        });
        return;
      }
      const wanted = m.allFields[r.field]!.reference!.model;
      if (!registry.get(wanted).family.includes(target.model)) {
        problem(place, `requires ${r.node}, a ${target.model}, not a ${wanted}`, {
          template: t.label,
          field: r.field,
        });
      }
    });
    if (!t.properties.has('name') && m.nameRequired !== false) {
      problem(tPlace, 'is required (objects are found by name)', {
        template: t.label,
        field: 'name',
      });
    }
  }
  if (found.length) return fail();
  const description = root.description;
  return {
    file,
    description: typeof description === 'string' ? description : '',
    templates: order(templates, (t) => locator.at({ path: [...base, t.label], key: true })),
  };
}

/** The place of a requirement's field key (its index found again in the template's list). */
function placeOfRequirement(
  base: Path,
  label: string,
  nodes: Record<string, unknown>,
  r: Requirement,
): Place {
  const body = nodes[label] as Record<string, unknown>;
  const list = (body.requirements as unknown[] | undefined) ?? [];
  const i = list.findIndex((item) => {
    if (!isObject(item)) return false;
    const spec = item[r.field];
    return spec === r.node || (isObject(spec) && spec.node === r.node);
  });
  return { path: [...base, label, 'requirements', Math.max(0, i), r.field], key: true };
}

/** Python's string order, which xos-tosca sorted by (and far cheaper than localeCompare). */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Templates after the ones they require (alphabetical among equals, as xos-tosca did); a cycle is a problem. */
function order(templates: Template[], posOf: (t: Template) => Position): Template[] {
  const byLabel = new Map(templates.map((t) => [t.label, t]));
  const done = new Set<string>();
  const visiting: string[] = [];
  const out: Template[] = [];
  const visit = (t: Template) => {
    if (done.has(t.label)) return;
    const i = visiting.indexOf(t.label);
    if (i >= 0) {
      const cycle = [...visiting.slice(i), t.label];
      throw new RecipeError([
        {
          ...posOf(t),
          template: t.label,
          reason: `requirements make a cycle: ${cycle.join(' → ')}`,
        },
      ]);
    }
    visiting.push(t.label);
    const reqs =
      t.requirements.length > 1
        ? [...t.requirements].sort((a, b) => byCodePoint(a.node, b.node))
        : t.requirements;
    for (const r of reqs) {
      const dep = byLabel.get(r.node);
      if (dep) visit(dep);
    }
    visiting.pop();
    done.add(t.label);
    out.push(t);
  };
  for (const t of [...templates].sort((a, b) => byCodePoint(a.label, b.label))) visit(t);
  return out;
}

/** The column a requirement's field is stored in (owner → owner_id). */
export function requirementColumn(registry: Registry, model: string, field: string): string {
  return columnOf(field, registry.get(model).allFields[field]!);
}
