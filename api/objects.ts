// What the GUI's object page shows besides the object itself: its status history, the backend
// objects the steps own for it, and the objects that refer to it. The gateway reads the object
// through the model's Get handler first (authentication, the role, the trust domain: NOT_FOUND
// for an object the caller may not see), then calls these.
import { readHistory, type HistoryEntry } from '../models/history.js';
import type { Registry } from '../models/registry.js';
import { columnOf } from '../models/schema.js';
import type { ModelObject, ModelService } from '../models/service.js';
import { ADMIN_MODELS, type Authenticator, type Principal, type VisibilityMemo } from './auth.js';

/** A backend object a step makes for a model object (steps/owned.ts lists them). */
export interface BackendObject {
  backend: string;
  kind: string;
  name: string;
  namespace?: string;
  cluster?: string;
  detail?: string;
}

export type OwnedLister = (models: ModelService, obj: ModelObject) => Promise<BackendObject[]>;

export interface Dependent {
  /** The referring object's own model. */
  model: string;
  /** Its reference field, as the registry names it (e.g. service_instance). */
  field: string;
  id: number;
  name: string | null;
}

/** At most this many dependents per referring model and field. */
export const DEPENDENTS_PER_FIELD = 100;

export async function history(
  models: ModelService,
  model: string,
  id: number,
): Promise<{ entries: HistoryEntry[] }> {
  return { entries: await readHistory(models.pool, models.registry, model, id) };
}

export async function backendObjects(
  models: ModelService,
  obj: ModelObject,
  owned: OwnedLister | undefined,
): Promise<{ objects: BackendObject[] }> {
  return { objects: owned ? await owned(models, obj) : [] };
}

/**
 * The live objects whose reference fields point at `obj`: for every field declared on a model
 * that refers to a model `obj` is a kind of, at most DEPENDENTS_PER_FIELD of them, in id order,
 * only those the caller may read and see.
 */
export async function dependents(
  models: ModelService,
  registry: Registry,
  auth: Authenticator,
  who: Principal,
  obj: ModelObject,
): Promise<{ dependents: Dependent[] }> {
  const out: Dependent[] = [];
  const memo: VisibilityMemo = new Map();
  for (const m of registry.models()) {
    if (ADMIN_MODELS.has(m.name) && who.role !== 'admin') continue;
    // Fields declared on this model (inherited ones are its parent's to list).
    for (const [field, def] of Object.entries(m.fields)) {
      if (def.type !== 'reference' || !def.reference) continue;
      if (!registry.get(def.reference.model).family.includes(obj.leaf_model)) continue;
      const page = await models.list(m.name, {
        filter: [
          { field: columnOf(field, def), value: obj.id },
          ...(m.root === registry.get(obj.leaf_model).root
            ? [{ field: 'id', op: 'ne' as const, value: obj.id }]
            : []),
        ],
        orderBy: [{ field: 'id' }],
        pageSize: DEPENDENTS_PER_FIELD,
      });
      for (const d of page.items) {
        if (!(await auth.visible(who, d.leaf_model, d, memo))) continue;
        out.push({
          model: d.leaf_model,
          field,
          id: d.id,
          name: typeof d.name === 'string' ? d.name : null,
        });
      }
    }
  }
  return { dependents: out };
}
