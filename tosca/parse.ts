// TOSCA recipes as xos-tosca read them: `tosca_definitions_version`, `imports`
// (custom_types/<model>.yaml), `description`, and `topology_template.node_templates`, each with
// `type: tosca.nodes.<Model>`, `properties` (the model's fields, plus `must-exist` and
// `xos_managed`) and `requirements` naming other templates (`- <field>: {node: <template>,
// relationship: tosca.relationships.BelongsToOne}`). Node types come from the model registry, so
// a new model is loadable at once.
//
// Every problem is found at once and placed at its file, line and column, with the template and
// the field; a recipe with any problem is not applied.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { FieldDef, Registry, ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';
import { coerce } from '../models/validate.js';

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
  pos: Position;
}

export interface Template {
  label: string;
  model: string;
  /** Field values by field name (references are requirements), checked against their types. */
  properties: Map<string, { value: unknown; pos: Position }>;
  requirements: Requirement[];
  /** The object must exist already; it is looked up, never created, updated or deleted. */
  mustExist: boolean;
  pos: Position;
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
};

/** The registry's model for a node type `tosca.nodes.<Model>`, case as the registry has it. */
export function modelOfType(registry: Registry, type: string): ResolvedModel | undefined {
  const m = /^tosca\.nodes\.(\w+)$/.exec(type);
  if (!m) return undefined;
  const wanted = m[1]!.toLowerCase();
  return registry.models().find((x) => x.name.toLowerCase() === wanted);
}

export function parseRecipe(text: string, file: string, registry: Registry): Recipe {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: Problem[] = [];
  const at = (node: Node | null | undefined): Position => {
    const offset = node?.range?.[0] ?? 0;
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const problem = (node: Node | null | undefined, reason: string, extra: Partial<Problem> = {}) => {
    problems.push({ ...at(node), reason, ...extra });
  };
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    problems.push({
      file,
      line: p.line,
      col: p.col,
      reason: `not valid YAML: ${e.message.split('\n')[0] ?? ''}`,
    });
  }
  if (problems.length) throw new RecipeError(problems);
  const root = doc.contents;
  if (!isMap(root)) throw new RecipeError([{ ...at(root), reason: 'a recipe is a YAML mapping' }]);

  const version = root.get('tosca_definitions_version', true);
  if (!version) problem(root, 'tosca_definitions_version is missing');
  else if (!isScalar(version) || !TOSCA_VERSIONS.includes(String(version.value))) {
    problem(version, `tosca_definitions_version must be one of ${TOSCA_VERSIONS.join(', ')}`);
  }
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (
      ![
        'tosca_definitions_version',
        'imports',
        'description',
        'topology_template',
        'metadata',
      ].includes(key)
    ) {
      problem(
        pair.key,
        `unknown section ${key} (expected tosca_definitions_version, imports, description, topology_template)`,
      );
    }
  }
  const imports = root.get('imports', true);
  if (imports !== undefined) {
    if (!isSeq(imports)) problem(imports, 'imports must be a list');
    else {
      for (const item of imports.items) {
        const value = isScalar(item) ? String(item.value) : '';
        const m = /^custom_types\/(\w+)\.yaml$/.exec(value);
        if (!m) {
          problem(item as Node, `imports: ${value || 'this'} is not custom_types/<model>.yaml`);
        } else if (!modelOfType(registry, `tosca.nodes.${m[1]!}`)) {
          problem(item as Node, `imports: Syncord has no model ${m[1]!}`);
        }
      }
    }
  }
  const description = root.get('description');
  const topology = root.get('topology_template', true);
  const templates: Template[] = [];
  if (!isMap(topology)) {
    problem(topology ?? root, 'topology_template with node_templates is missing');
    throw new RecipeError(problems);
  }
  const nodes = topology.get('node_templates', true);
  if (!isMap(nodes)) {
    problem(nodes ?? topology, 'topology_template.node_templates must be a mapping of templates');
    throw new RecipeError(problems);
  }
  for (const pair of nodes.items) {
    const label = isScalar(pair.key) ? String(pair.key.value) : '';
    const body = pair.value;
    const where = pair.key as Node;
    if (!isMap(body)) {
      problem(where, 'a node template is a mapping with type, properties and requirements', {
        template: label,
      });
      continue;
    }
    const typeNode = body.get('type', true);
    const type = isScalar(typeNode) ? String(typeNode.value) : '';
    const model = modelOfType(registry, type);
    if (!typeNode) {
      problem(where, 'type is missing', { template: label });
      continue;
    }
    if (!model) {
      const name = /^tosca\.nodes\.(\w+)$/.exec(type)?.[1];
      problem(
        typeNode,
        name
          ? `unknown type ${type}: Syncord has no model ${name}`
          : `unknown type ${type} (expected tosca.nodes.<Model>)`,
        {
          template: label,
        },
      );
      continue;
    }
    for (const p of body.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!['type', 'properties', 'requirements', 'description', 'metadata'].includes(k)) {
        problem(p.key as Node, `unknown key ${k} (expected type, properties, requirements)`, {
          template: label,
        });
      }
    }
    const t: Template = {
      label,
      model: model.name,
      properties: new Map(),
      requirements: [],
      mustExist: false,
      pos: at(where),
    };
    const props = body.get('properties', true);
    if (props !== undefined && !isMap(props)) {
      problem(props, 'properties must be a mapping', { template: label });
    } else if (props) {
      for (const p of props.items) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        const valueNode = p.value as Node | null;
        const value = valueNode ? (valueNode as { toJSON(): unknown }).toJSON() : null;
        const pos = at(p.key as Node);
        if (name === 'must-exist') {
          if (typeof value !== 'boolean')
            problem(valueNode, 'must be true or false', { template: label, field: name });
          else t.mustExist = value;
          continue;
        }
        if (META_PROPERTIES.has(name)) continue; // xos_managed: accepted, no effect here
        const def: FieldDef | undefined =
          name === 'name'
            ? { type: 'string', maxLength: 256 }
            : (model.allFields[name] ?? USER_BOOKKEEPING[name]);
        if (!def) {
          problem(p.key as Node, `unknown property: ${model.name} has no field ${name}`, {
            template: label,
            field: name,
          });
          continue;
        }
        if (def.type === 'reference') {
          problem(p.key as Node, `${name} is a reference: name its template under requirements`, {
            template: label,
            field: name,
          });
          continue;
        }
        if (def.feedback) {
          problem(p.key as Node, 'is read-only (the synchronizer reports it)', {
            template: label,
            field: name,
          });
          continue;
        }
        const c = coerce(def, value);
        if ('reason' in c) {
          problem(valueNode ?? (p.key as Node), c.reason, { template: label, field: name });
          continue;
        }
        t.properties.set(name, { value: c.value, pos });
      }
    }
    // A template named model#name gives the object its name when the properties do not.
    if (!t.properties.has('name') && label.includes('#')) {
      t.properties.set('name', { value: label.slice(label.indexOf('#') + 1), pos: t.pos });
    }
    const reqs = body.get('requirements', true);
    if (reqs !== undefined && !isSeq(reqs)) {
      problem(reqs, 'requirements must be a list', { template: label });
    } else if (reqs) {
      for (const item of reqs.items) {
        if (!isMap(item) || item.items.length !== 1) {
          problem(item as Node, 'a requirement is - <field>: {node: <template>}', {
            template: label,
          });
          continue;
        }
        const pair = item.items[0]!;
        const field = isScalar(pair.key) ? String(pair.key.value) : '';
        const def = model.allFields[field];
        if (!def || def.type !== 'reference') {
          problem(pair.key as Node, `${model.name} has no reference field ${field}`, {
            template: label,
            field,
          });
          continue;
        }
        let node: string | undefined;
        if (isScalar(pair.value)) node = String(pair.value.value);
        else if (isMap(pair.value)) {
          const n = pair.value.get('node');
          node = typeof n === 'string' ? n : undefined;
          const rel = pair.value.get('relationship');
          if (rel !== undefined && rel !== BELONGS_TO) {
            problem(
              pair.value.get('relationship', true),
              `relationship ${typeof rel === 'string' ? rel : JSON.stringify(rel)}: only ${BELONGS_TO}`,
              { template: label, field },
            );
          }
        }
        if (!node) {
          problem(pair.key as Node, 'names no node', { template: label, field });
          continue;
        }
        t.requirements.push({ field, node, pos: at(pair.key as Node) });
      }
    }
    templates.push(t);
  }
  // Requirements name templates of the right model.
  const byLabel = new Map(templates.map((t) => [t.label, t]));
  for (const t of templates) {
    const m = registry.get(t.model);
    for (const r of t.requirements) {
      const target = byLabel.get(r.node);
      if (!target) {
        problems.push({
          ...r.pos,
          template: t.label,
          field: r.field,
          reason: `requires ${r.node}, which is not a template of this recipe`,
        });
        continue;
      }
      const wanted = m.allFields[r.field]!.reference!.model;
      if (!registry.get(wanted).family.includes(target.model)) {
        problems.push({
          ...r.pos,
          template: t.label,
          field: r.field,
          reason: `requires ${r.node}, a ${target.model}, not a ${wanted}`,
        });
      }
    }
    if (!t.properties.has('name') && m.nameRequired !== false) {
      problems.push({
        ...t.pos,
        template: t.label,
        field: 'name',
        reason: 'is required (objects are found by name)',
      });
    }
  }
  if (problems.length) throw new RecipeError(problems);
  return {
    file,
    description: typeof description === 'string' ? description : '',
    templates: order(templates, file),
  };
}

/** Templates after the ones they require (alphabetical among equals, as xos-tosca did); a cycle is a problem. */
function order(templates: Template[], file: string): Template[] {
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
          ...t.pos,
          file,
          template: t.label,
          reason: `requirements make a cycle: ${cycle.join(' → ')}`,
        },
      ]);
    }
    visiting.push(t.label);
    for (const r of [...t.requirements].sort((a, b) => a.node.localeCompare(b.node))) {
      const dep = byLabel.get(r.node);
      if (dep) visit(dep);
    }
    visiting.pop();
    done.add(t.label);
    out.push(t);
  };
  for (const t of [...templates].sort((a, b) => a.label.localeCompare(b.label))) visit(t);
  return out;
}

/** The column a requirement's field is stored in (owner → owner_id). */
export function requirementColumn(registry: Registry, model: string, field: string): string {
  return columnOf(field, registry.get(model).allFields[field]!);
}
