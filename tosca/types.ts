// The TOSCA node types Syncord accepts, generated from the model registry: one
// `tosca.nodes.<Model>` per model, its fields as properties (references as requirements), as
// xos-tosca generated them from the xprotos. `syncord tosca types` prints them.
import { stringify } from 'yaml';
import {
  DELETION_POLICIES,
  MANAGEMENT_POLICIES,
  type FieldDef,
  type Registry,
} from '../models/registry.js';
import { BELONGS_TO } from './parse.js';

function toscaType(def: FieldDef): string {
  switch (def.type) {
    case 'integer':
      return 'integer';
    case 'float':
      return 'float';
    case 'boolean':
      return 'boolean';
    case 'json':
      return 'map';
    case 'timestamp':
      return 'timestamp';
    default:
      return 'string';
  }
}

export function nodeTypes(registry: Registry): Record<string, unknown> {
  const types: Record<string, unknown> = {};
  for (const m of registry.models()) {
    const properties: Record<string, unknown> = {
      'must-exist': {
        type: 'boolean',
        default: false,
        description: 'the object must exist already: it is looked up, never created or changed',
      },
      management_policy: {
        type: 'string',
        required: false,
        default: 'full',
        description:
          'full: create, update and repair the backend; observe: only read it into status; create-only: no updates after creation',
        constraints: [{ valid_values: [...MANAGEMENT_POLICIES] }],
      },
      deletion_policy: {
        type: 'string',
        required: false,
        default: 'delete',
        description:
          "delete: deleting the object tears its backend down; orphan: it takes Syncord's owner marks off and leaves it running",
        constraints: [{ valid_values: [...DELETION_POLICIES] }],
      },
      xos_managed: {
        type: 'boolean',
        required: false,
        default: true,
        description: 'as in XOS recipes: false means management_policy observe',
      },
    };
    if (m.nameRequired !== false || !m.uniqueTogether?.length) {
      properties.name = {
        type: 'string',
        required: m.nameRequired !== false,
        description: 'how the object is found again',
      };
    }
    const requirements: Record<string, unknown>[] = [];
    for (const [field, def] of Object.entries(m.allFields)) {
      if (def.feedback) continue;
      if (def.type === 'reference' && def.reference) {
        requirements.push({
          [field]: {
            node: `tosca.nodes.${def.reference.model}`,
            relationship: BELONGS_TO,
            occurrences: [def.required ? 1 : 0, 1],
          },
        });
        continue;
      }
      properties[field] = {
        type: toscaType(def),
        required: def.required === true && def.default === undefined,
        ...(def.help ? { description: def.help } : {}),
        ...(def.default !== undefined && def.default !== null && typeof def.default !== 'object'
          ? { default: def.default }
          : {}),
        ...(def.choices ? { constraints: [{ valid_values: [...def.choices] }] } : {}),
      };
    }
    types[`tosca.nodes.${m.name}`] = {
      derived_from: m.extends ? `tosca.nodes.${m.extends}` : 'tosca.nodes.Root',
      description: m.description,
      properties,
      ...(requirements.length ? { requirements } : {}),
    };
  }
  return types;
}

export function nodeTypesYaml(registry: Registry): string {
  return stringify({
    tosca_definitions_version: 'tosca_simple_yaml_1_0',
    description: 'Syncord node types, generated from the model registry',
    node_types: nodeTypes(registry),
  });
}
