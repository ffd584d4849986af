// Applying and deleting recipes: upsert by name in requirement order, all in one transaction
// (a recipe applies whole or not at all); running it again changes nothing; a dry run says what
// would be created, updated and left alone, and writes nothing. Delete goes in reverse order and
// leaves what the recipe only refers to (must-exist).
import { ValidationError, AlreadyExistsError, ModelError } from '../models/errors.js';
import type { Registry } from '../models/registry.js';
import type { ModelObject, ModelService, ModelTx } from '../models/service.js';
import { sameValue } from '../models/validate.js';
import {
  RecipeError,
  requirementColumn,
  type Problem,
  type Recipe,
  type Template,
} from './parse.js';

export interface Outcome {
  template: string;
  model: string;
  id: number | null;
  name: string;
  /** kept: a delete left it, since no recipe created it. */
  action: 'created' | 'updated' | 'unchanged' | 'found' | 'deleted' | 'absent' | 'kept';
  /** For updates: the fields changed. */
  fields?: string[];
}

class DryRun extends Error {
  constructor(readonly outcomes: Outcome[]) {
    super('dry run');
  }
}

/**
 * How a template's object is found again: by name (with the other fields of a unique set that
 * holds the name, e.g. an Image's tag), else by a unique set whose fields the template gives
 * (a Port's instance and interface). Undefined when it gives none.
 */
function keyOf(
  registry: Registry,
  t: Template,
  values: Record<string, unknown>,
): { field: string; value: unknown }[] | undefined {
  const m = registry.get(t.model);
  const given = (field: string) => {
    const def = m.allFields[field];
    const column = def?.type === 'reference' ? requirementColumn(registry, t.model, field) : field;
    return values[column] !== undefined ? { field, value: values[column] } : undefined;
  };
  const sets = m.uniqueTogether ?? [];
  if (values.name !== undefined && values.name !== '') {
    const withName = sets.find((u) => u.includes('name') && u.every((f) => given(f)));
    const fields = withName ?? ['name'];
    return fields.map((f) => given(f)!);
  }
  for (const u of sets) {
    const key = u.map(given);
    if (key.every((k) => k !== undefined)) return key;
  }
  return undefined;
}

async function find(
  tx: ModelTx,
  model: string,
  key: { field: string; value: unknown }[],
): Promise<ModelObject[]> {
  const page = await tx.list(model, { filter: key, pageSize: 2 });
  return page.items;
}

const nameOf = (t: Template): string => {
  const v = t.properties.get('name')?.value;
  return typeof v === 'string' ? v : '';
};

const describeKey = (key: { field: string; value: unknown }[]) =>
  key.map((k) => `${k.field} ${JSON.stringify(k.value)}`).join(', ');

/** A model-layer refusal as problems at the template's properties. */
function problemsOf(err: unknown, t: Template, file: string): Problem[] {
  if (err instanceof ValidationError || err instanceof AlreadyExistsError) {
    return err.errors.map((e) => {
      const field = e.field.replace(/_id$/, '');
      const prop = t.properties.get(e.field) ?? t.properties.get(field);
      const req = t.requirements.find((r) => r.field === field);
      const pos = prop?.pos ?? req?.pos ?? t.pos;
      return { ...pos, file, template: t.label, field: e.field, reason: e.reason };
    });
  }
  if (err instanceof ModelError)
    return [{ ...t.pos, file, template: t.label, reason: err.message }];
  throw err;
}

/** Notes objects a recipe created (a recipe's delete removes only those). */
async function remember(tx: ModelTx, registry: Registry, model: string, ids: number[]) {
  await tx.client.query(
    `INSERT INTO syncord_tosca_object (model_table, object_id)
     SELECT $1, unnest($2::int[]) ON CONFLICT DO NOTHING`,
    [registry.get(model).table, ids],
  );
}

/**
 * A template's values: its properties, and the ids of the templates it requires (`unresolved`
 * when one of them has no object).
 */
function valuesOf(
  registry: Registry,
  t: Template,
  ids: ReadonlyMap<string, number>,
): { values: Record<string, unknown>; unresolved: boolean } {
  const values: Record<string, unknown> = {};
  for (const [k, v] of t.properties) values[k] = v.value;
  let unresolved = false;
  for (const r of t.requirements) {
    const id = ids.get(r.node);
    if (id === undefined) unresolved = true;
    else values[requirementColumn(registry, t.model, r.field)] = id;
  }
  return { values, unresolved };
}

/** Runs work in one transaction; a dry run rolls it back and returns what it would have done. */
async function inTransaction(
  models: ModelService,
  dryRun: boolean,
  work: (tx: ModelTx) => Promise<Outcome[]>,
): Promise<Outcome[]> {
  try {
    return await models.transaction(async (tx) => {
      const outcomes = await work(tx);
      if (dryRun) throw new DryRun(outcomes);
      return outcomes;
    });
  } catch (err) {
    if (err instanceof DryRun) return err.outcomes;
    throw err;
  }
}

interface Item {
  t: Template;
  file: string;
  name: string;
  values: Record<string, unknown>;
  key: { field: string; value: unknown }[];
}

/** Templates by depth: each level requires only templates of earlier levels. */
function levels(templates: Template[]): Template[][] {
  const depth = new Map<string, number>();
  const out: Template[][] = [];
  for (const t of templates) {
    const d = Math.max(-1, ...t.requirements.map((r) => depth.get(r.node) ?? -1)) + 1;
    depth.set(t.label, d);
    (out[d] ??= []).push(t);
  }
  return out;
}

/**
 * The objects each item's key finds: one query per model and 5,000 names for the templates
 * found by name alone (most of them), one each for the others.
 */
async function lookUp(tx: ModelTx, items: Item[]): Promise<Map<Item, ModelObject[]>> {
  const out = new Map<Item, ModelObject[]>();
  const byName = new Map<string, Item[]>();
  for (const item of items) {
    if (item.key.length === 1 && item.key[0]!.field === 'name') {
      let list = byName.get(item.t.model);
      if (!list) byName.set(item.t.model, (list = []));
      list.push(item);
    } else {
      out.set(item, await find(tx, item.t.model, item.key));
    }
  }
  for (const [model, list] of byName) {
    const found = new Map<string, ModelObject[]>();
    for (let i = 0; i < list.length; i += 5000) {
      const names = [...new Set(list.slice(i, i + 5000).map((x) => x.name))];
      let pageToken: string | undefined;
      do {
        const page = await tx.list(model, {
          filter: [{ field: 'name', op: 'in', value: names }],
          pageSize: 5000,
          ...(pageToken ? { pageToken } : {}),
        });
        for (const o of page.items) {
          const n = String(o.name);
          found.set(n, [...(found.get(n) ?? []), o]);
        }
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
    }
    for (const item of list) out.set(item, found.get(item.name) ?? []);
  }
  return out;
}

/** Applies recipes in one transaction; with dryRun, reports and writes nothing. */
export async function applyRecipes(
  models: ModelService,
  registry: Registry,
  recipes: Recipe[],
  options: { dryRun?: boolean } = {},
): Promise<Outcome[]> {
  return inTransaction(models, options.dryRun === true, async (tx) => {
    const outcomes: Outcome[] = [];
    const problems: Problem[] = [];
    const outcome = (item: Item, id: number, action: Outcome['action'], fields?: string[]) => {
      outcomes.push({
        template: item.t.label,
        model: item.t.model,
        id,
        name: item.name,
        action,
        ...(fields ? { fields } : {}),
      });
    };
    /** Runs one write in a savepoint: a refusal is a problem, and the transaction goes on. */
    const guarded = async (item: Item, write: () => Promise<void>) => {
      await tx.client.query('SAVEPOINT tosca_template');
      try {
        await write();
      } catch (err) {
        await tx.client.query('ROLLBACK TO SAVEPOINT tosca_template');
        // A unique index's refusal, explained on this transaction (the holder may be an object
        // this recipe made), is placed at the template like any other refusal.
        problems.push(...problemsOf((await tx.explainRefusal(err)) ?? err, item.t, item.file));
      }
    };
    for (const recipe of recipes) {
      const ids = new Map<string, number>();
      for (const level of levels(recipe.templates)) {
        const items: Item[] = [];
        for (const t of level) {
          const { values, unresolved } = valuesOf(registry, t, ids);
          if (unresolved) continue; // a required template failed: reported there
          const key = keyOf(registry, t, values);
          if (!key) {
            const sets = (registry.get(t.model).uniqueTogether ?? []).map(
              (u) => ` or ${u.join(' and ')}`,
            );
            problems.push({
              ...t.pos,
              file: recipe.file,
              template: t.label,
              reason: `cannot be found again: give its name${sets.join('')}`,
            });
            continue;
          }
          items.push({ t, file: recipe.file, name: nameOf(t), values, key });
        }
        const found = await lookUp(tx, items);
        const toCreate = new Map<string, Item[]>();
        for (const item of items) {
          const { t } = item;
          const matches = found.get(item) ?? [];
          if (matches.length > 1) {
            problems.push({
              ...t.pos,
              file: item.file,
              template: t.label,
              reason: `several ${t.model} objects have ${describeKey(item.key)}`,
            });
            continue;
          }
          const current = matches[0];
          if (t.mustExist) {
            if (!current) {
              problems.push({
                ...t.pos,
                file: item.file,
                template: t.label,
                reason: `must exist, and no ${t.model} has ${describeKey(item.key)}`,
              });
              continue;
            }
            ids.set(t.label, current.id);
            outcome(item, current.id, 'found');
            continue;
          }
          if (!current) {
            let list = toCreate.get(t.model);
            if (!list) toCreate.set(t.model, (list = []));
            list.push(item);
            continue;
          }
          ids.set(t.label, current.id);
          const changed = Object.keys(item.values).filter(
            (k) => !sameValue(current[k], item.values[k]),
          );
          if (changed.length === 0) {
            outcome(item, current.id, 'unchanged');
            continue;
          }
          const patch = Object.fromEntries(changed.map((k) => [k, item.values[k]]));
          await guarded(item, async () => {
            await tx.update(current.leaf_model, current.id, patch);
            outcome(item, current.id, 'updated', changed);
          });
        }
        // New objects of a model in one call; when it is refused, one by one, so that each
        // problem is placed at its template.
        for (const [model, list] of toCreate) {
          await tx.client.query('SAVEPOINT tosca_batch');
          let made: ModelObject[] | undefined;
          try {
            made = await tx.createMany(
              model,
              list.map((x) => x.values),
            );
          } catch {
            await tx.client.query('ROLLBACK TO SAVEPOINT tosca_batch');
          }
          if (made) {
            made.forEach((o, i) => {
              ids.set(list[i]!.t.label, o.id);
              outcome(list[i]!, o.id, 'created');
            });
            await remember(
              tx,
              registry,
              model,
              made.map((o) => o.id),
            );
            continue;
          }
          for (const item of list) {
            await guarded(item, async () => {
              const o = await tx.create(model, item.values);
              ids.set(item.t.label, o.id);
              outcome(item, o.id, 'created');
              await remember(tx, registry, model, [o.id]);
            });
          }
        }
      }
    }
    if (problems.length) throw new RecipeError(problems);
    return outcomes;
  });
}

/** Deletes what recipes describe, in reverse order, in one transaction; must-exist objects stay. */
export async function deleteRecipes(
  models: ModelService,
  registry: Registry,
  recipes: Recipe[],
  options: { dryRun?: boolean } = {},
): Promise<Outcome[]> {
  return inTransaction(models, options.dryRun === true, async (tx) => {
    const outcomes: Outcome[] = [];
    for (const recipe of [...recipes].reverse()) {
      // Found first in requirement order (a Port is found by its instance's id), then deleted
      // in reverse.
      const ids = new Map<string, number>();
      const found = new Map<string, ModelObject | undefined>();
      for (const t of recipe.templates) {
        const key = keyOf(registry, t, valuesOf(registry, t, ids).values);
        const [current] = key ? await find(tx, t.model, key) : [];
        found.set(t.label, current);
        if (current) ids.set(t.label, current.id);
      }
      for (const t of [...recipe.templates].reverse()) {
        if (t.mustExist) continue;
        const name = nameOf(t);
        const current = found.get(t.label);
        if (!current) {
          outcomes.push({ template: t.label, model: t.model, id: null, name, action: 'absent' });
          continue;
        }
        const table = registry.get(t.model).table;
        const made = await tx.client.query(
          'DELETE FROM syncord_tosca_object WHERE model_table = $1 AND object_id = $2',
          [table, current.id],
        );
        if (made.rowCount === 0) {
          // Not made by a recipe: it was there before (or only referred to), and stays.
          outcomes.push({
            template: t.label,
            model: t.model,
            id: current.id,
            name,
            action: 'kept',
          });
          continue;
        }
        await tx.delete(current.leaf_model, current.id);
        outcomes.push({
          template: t.label,
          model: t.model,
          id: current.id,
          name,
          action: 'deleted',
        });
      }
    }
    return outcomes;
  });
}
