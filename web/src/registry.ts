// The model registry the tables and forms are generated from: GET /api/v1/models, or, from a
// gateway that predates it, an approximation read from its OpenAPI document.
import { createContext, useContext } from 'react';
import { ApiError, type Api } from './api';
import type { FieldInfo, FieldType, ModelInfo, Obj, Role } from './types';

export interface Registry {
  models: ModelInfo[];
  byName: Map<string, ModelInfo>;
  /** True when read from openapi.json: no references' models, no families, no step info. */
  approximate: boolean;
}

export const RegistryContext = createContext<Registry | null>(null);

export function useRegistry(): Registry {
  const r = useContext(RegistryContext);
  if (!r) throw new Error('useRegistry outside the registry provider');
  return r;
}

export function makeRegistry(models: ModelInfo[], approximate = false): Registry {
  return { models, byName: new Map(models.map((m) => [m.name, m])), approximate };
}

/** Models only admins may read or write (the API's ADMIN_MODELS): not offered to others. */
export const ADMIN_MODELS = new Set(['User', 'Role', 'ApiToken']);

export function readable(role: Role, model: string): boolean {
  return role === 'admin' || !ADMIN_MODELS.has(model);
}

export function writable(role: Role, model: string): boolean {
  return role !== 'viewer' && readable(role, model);
}

/** A field the user may set (on create; on edit too, unless the server refuses it). */
export function editable(f: FieldInfo): boolean {
  return !f.read_only && !f.feedback && f.name !== 'id';
}

/** Whether a model's objects are reconciled (a badge other than "no sync"). */
export function isSynced(registry: Registry, model: string): boolean {
  return registry.byName.get(model)?.synced ?? true;
}

/** Whether an object is reconciled: by its own model (a table of ServiceInstance holds VSG ones). */
export function objectSynced(registry: Registry, model: string, obj: Obj): boolean {
  const leaf = typeof obj.leaf_model === 'string' && obj.leaf_model ? obj.leaf_model : model;
  return isSynced(registry, registry.byName.has(leaf) ? leaf : model);
}

/** Whether any model of a family is reconciled (its counts by status mean something). */
export function familySynced(registry: Registry, model: string): boolean {
  return (registry.byName.get(model)?.family ?? [model]).some((m) => isSynced(registry, m));
}

/** The models whose family holds `model` (itself, its parent, ...): a watch of any sees it. */
export function familyOf(registry: Registry, model: string): Set<string> {
  return new Set(registry.byName.get(model)?.family ?? [model]);
}

const BOOKKEEPING = new Set([
  'id',
  'name',
  'leaf_model',
  'version',
  'created_at',
  'updated_at',
  'no_sync',
  'write_protect',
  'management_policy',
  'deletion_policy',
  'backend_handle',
  'backend_code',
  'backend_status',
  'failures',
  'next_attempt_at',
  'synced_version',
  'policed_version',
  'policy_code',
  'policy_status',
  'deleted_at',
]);

interface OpenApiProperty {
  type?: string;
  format?: string;
  readOnly?: boolean;
  enum?: string[];
  description?: string;
}

interface OpenApiSchema {
  properties?: Record<string, OpenApiProperty>;
  required?: string[];
}

function pascal(snake: string): string {
  return snake.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
}

/** The registry as far as an OpenAPI document tells it (the fallback of an older gateway). */
export function registryFromOpenApi(doc: unknown): ModelInfo[] {
  const schemas =
    (doc as { components?: { schemas?: Record<string, OpenApiSchema> } }).components?.schemas ?? {};
  const names = new Set(Object.keys(schemas).filter((n) => n !== 'Error'));
  return [...names].map((name) => {
    const s = schemas[name]!;
    const required = new Set(s.required ?? []);
    const fields = Object.entries(s.properties ?? {}).map(([field, p]): FieldInfo => {
      const bookkeeping = BOOKKEEPING.has(field);
      const ref = field.endsWith('_id') ? pascal(field.slice(0, -3)) : '';
      let type: FieldType = 'string';
      if (p.enum) type = 'choice';
      else if (p.type === 'integer') type = ref && names.has(ref) ? 'reference' : 'integer';
      else if (p.type === 'number') type = 'float';
      else if (p.type === 'boolean') type = 'boolean';
      else if (p.format === 'date-time') type = 'timestamp';
      else if (p.type === undefined) type = 'json';
      return {
        name: field,
        field,
        type,
        required: required.has(field),
        ...(p.enum ? { choices: p.enum } : {}),
        ...(type === 'reference' ? { reference: ref } : {}),
        read_only: p.readOnly === true,
        feedback: p.readOnly === true && !bookkeeping,
        bookkeeping,
        ...(p.description ? { help: p.description } : {}),
      };
    });
    return {
      name,
      parent: null,
      abstract: false,
      family: [name],
      synced: true,
      policed: false,
      name_required: true,
      unique_together: [],
      fields,
    };
  });
}

/** Loads the registry; an older gateway without GET models falls back to its OpenAPI document. */
export async function loadRegistry(api: Api): Promise<Registry> {
  try {
    return makeRegistry(await api.models());
  } catch (err) {
    if (!(err instanceof ApiError && err.notFound)) throw err;
    return makeRegistry(registryFromOpenApi(await api.openApi()), true);
  }
}
