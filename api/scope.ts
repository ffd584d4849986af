// What a caller limited to a trust domain may see, counted: a List's total and the dashboard's
// counts must not tell such a caller about other trust domains' objects. Visibility is decided
// per object (api/auth.ts follows its references), so these walk the objects, reading each
// referenced object once per call. Callers that see everything never come here.
import type { Registry } from '../models/registry.js';
import type { ListOptions, ModelService } from '../models/service.js';
import type { Authenticator, Principal, VisibilityMemo } from './auth.js';

const PAGE = 5000;

/** How many objects of a listing (every page of it) the caller may see. */
export async function countVisible(
  models: ModelService,
  auth: Authenticator,
  who: Principal,
  model: string,
  options: ListOptions,
  memo: VisibilityMemo = new Map(),
): Promise<number> {
  let n = 0;
  let pageToken: string | undefined;
  do {
    const page = await models.list(model, {
      ...options,
      pageSize: PAGE,
      withTotal: false,
      pageToken,
    });
    for (const o of page.items) if (await auth.visible(who, model, o, memo)) n++;
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken);
  return n;
}

/** Per table, the ids of the objects (deleted ones too) the caller may see. */
export async function visibleIds(
  models: ModelService,
  registry: Registry,
  auth: Authenticator,
  who: Principal,
  tables: readonly string[],
): Promise<Map<string, number[]>> {
  const memo: VisibilityMemo = new Map();
  const out = new Map<string, number[]>();
  for (const root of registry.tables()) {
    if (!tables.includes(root.name)) continue;
    const ids: number[] = [];
    let pageToken: string | undefined;
    do {
      const page = await models.list(root.name, {
        includeDeleted: true,
        pageSize: PAGE,
        ...(pageToken ? { pageToken } : {}),
      });
      for (const o of page.items) {
        if (await auth.visible(who, o.leaf_model, o, memo)) ids.push(o.id);
      }
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    out.set(root.table, ids);
  }
  return out;
}
