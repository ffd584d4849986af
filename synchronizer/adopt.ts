// Adoption: backend objects that Syncord did not make (no owner mark) become models. Each
// backend's steps offer an AdoptSource that lists such objects as candidates, each with the model
// it would become (the observed values, references to other candidates) and its handle (the
// backend names the steps must use for it). `adopt` creates the chosen candidates' models in ONE
// transaction, with their handles: a crash before the commit leaves nothing adopted, and after it
// everything is (the engine then puts the marks on, through each step's adopt(), before the
// first sync). Nothing is written to a backend here.
import { failpoint } from '../backends/failpoint.js';
import { ModelError, ValidationError } from '../models/errors.js';
import type { DeletionPolicy, ManagementPolicy } from '../models/registry.js';
import { parseCidr } from '../models/ipam/address.js';
import { q } from '../models/schema.js';
import type { ModelObject, ModelService, ModelTx } from '../models/service.js';

export interface AdoptCandidate {
  /** Unique among candidates: "<backend>/<kind>/<namespace/>name". */
  key: string;
  backend: string;
  /** The backend's kind: Pod, Logical_Switch, Logical_Switch_Port, VtnNetwork, Server, ... */
  kind: string;
  /** The backend's name (or id) of the object. */
  name: string;
  namespace?: string;
  cluster?: string;
  /** One line: what it is, as observed. */
  detail: string;
  /** The model it would become, and its values (user fields, by column). */
  model: string;
  values: Record<string, unknown>;
  /**
   * References to other candidates, by column (`network_id`): the candidate's key. Adopted
   * together, they are created first; the column gets the id.
   */
  refs?: Record<string, string>;
  /** What the steps must call its backend objects, by "<backend>/<kind>". */
  handle: Record<string, string>;
  /**
   * Candidates that must be adopted in the same call (a pod's interfaces: its sync would
   * otherwise take them off, and replace the pod), by key.
   */
  together?: string[];
  /** Why it cannot be adopted as it is (shown, and refused if asked for). */
  problem?: string;
  /**
   * What the object is whatever backend shows it (`portIdentity`, `networkIdentity`): one pod
   * interface is a Kubernetes network-status entry, an OVN switch port and a VTN port with one
   * MAC. discoverAll merges the candidates of one model and identity into one.
   */
  identity?: string;
  /**
   * Columns the backend object does not tell (an OVN switch port does not say whose interface it
   * is; a name the backend keeps by the handle, whatever the model's): their values come from the
   * filter (`--instance`) or are made up, or are missing, which is then the candidate's problem.
   * Merged with a candidate that tells them, that one's values win.
   */
  guessed?: string[];
  /**
   * Its problem is only that a guessed column has no value (`--instance` not given): merged with
   * a candidate that tells that column, it is gone.
   */
  guessOnly?: boolean;
  /**
   * What the object shows that is no model column but must agree across backends (the device a
   * VTN host is at, and the one a pod's node stands for), by name: merged candidates that say
   * differently have that problem.
   */
  facts?: Record<string, string>;
  /**
   * Set by discoverAll on a candidate merged from several: the keys of the others, each of which
   * also names it.
   */
  also?: string[];
}

/** The identity of a Port's candidate: its MAC (lower case). */
export const portIdentity = (mac: string): string => `Port mac ${mac.toLowerCase()}`;
/** The identity of a Network's candidate: its subnet (canonical CIDR). */
export function networkIdentity(cidr: string): string {
  let canonical = cidr;
  try {
    canonical = parseCidr(cidr).cidr;
  } catch {
    // Kept as written: it is the candidate's problem already.
  }
  return `Network subnet ${canonical}`;
}

/** Which backend objects to look at. */
export interface AdoptFilter {
  /** Backend kinds (Pod, Logical_Switch, ...); all when empty. */
  kinds?: string[];
  /** Kubernetes: a label selector ("app=web,tier!=db"). */
  selector?: string;
  /** Kubernetes: a namespace; all when absent. */
  namespace?: string;
  /**
   * Ports found alone (an OVN switch port says nothing of whose interface it is): the
   * ServiceInstance they are given, by name or id.
   */
  instance?: string;
  /**
   * The Service that owns what is adopted where a model needs an owner (a Kubernetes namespace's
   * TrustDomain, a pod's instance), by name or id; default: the first of the kind the source
   * needs.
   */
  service?: string;
}

export interface AdoptSource {
  /** The backend, as steps' names start ("ovn", "kubernetes", ...). */
  backend: string;
  /** Backend objects with no Syncord owner mark that match a model kind, as candidates. */
  discover(models: ModelService, filter: AdoptFilter): Promise<AdoptCandidate[]>;
  /** Closes what discover opened (connections), if anything. */
  close?(): Promise<void>;
}

export interface AdoptOptions {
  management_policy?: ManagementPolicy;
  deletion_policy?: DeletionPolicy;
}

export interface Adopted {
  key: string;
  model: string;
  id: number;
  name: string | null;
}

/** A candidate refused, and why: nothing was adopted. */
export class AdoptError extends ModelError {
  constructor(
    readonly candidate: string,
    readonly reason: string,
  ) {
    super(`${candidate}: ${reason}`);
    this.name = 'AdoptError';
  }
}

/** An object of a model (or its kinds) by name, or by id when `wanted` is digits; undefined if none. */
export async function modelNamed(
  models: ModelService,
  model: string,
  wanted: string,
): Promise<ModelObject | string> {
  const byId = /^\d+$/.test(wanted)
    ? await models.get(model, Number(wanted)).catch(() => undefined)
    : undefined;
  if (byId) return byId;
  const page = await models.list(model, {
    filter: [{ field: 'name', value: wanted }],
    pageSize: 2,
  });
  if (page.items.length === 1) return page.items[0]!;
  return `no ${model} named ${wanted}${page.items.length > 1 ? ' (several are: give its id)' : ''}`;
}

/**
 * The ServiceInstance the filter names (by name, or id), for ports found alone (a switch port or
 * a VTN port says nothing of whose interface it is); or why there is none, as a candidate's
 * problem.
 */
export async function instanceOf(
  models: ModelService,
  filter: AdoptFilter,
): Promise<ModelObject | string> {
  if (!filter.instance) {
    return 'its instance is unknown: name the ServiceInstance its ports belong to (syncord adopt --instance NAME)';
  }
  return modelNamed(models, 'ServiceInstance', filter.instance);
}

/** Which backend tells most about an object: its candidate leads a merge (key, name, detail). */
const LEAD = ['kubernetes', 'openstack', 'vtn', 'ovn'];
const leadRank = (c: AdoptCandidate) => {
  const i = LEAD.indexOf(c.backend);
  return i < 0 ? LEAD.length : i;
};

/** A value as compared across backends (MACs and addresses are canonical already). */
const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Merges the candidates of one model and identity (one object as several backends show it) into
 * one: the lead's key, the handles united, the values of all; the others' keys name it too
 * (`also`), and references to them become references to it. A column two backends tell
 * differently is the merged candidate's problem (naming both), and so is any candidate's
 * problem, but for a guessed column that another backend tells.
 */
export function mergeCandidates(candidates: readonly AdoptCandidate[]): AdoptCandidate[] {
  const groups = new Map<string, AdoptCandidate[]>();
  for (const c of candidates) {
    if (!c.identity) continue;
    const id = `${c.model}\u0000${c.identity}`;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  const renamed = new Map<string, string>();
  const merged = new Map<string, Merged>();
  for (const group of groups.values()) {
    // One backend showing two objects of one identity (two tenants' networks on one subnet):
    // which is which elsewhere is not known, so none is merged.
    const backends = new Set(group.map((c) => c.backend));
    if (group.length < 2 || backends.size < group.length) continue;
    const sorted = [...group].sort((a, b) => leadRank(a) - leadRank(b));
    const lead = sorted[0]!;
    for (const c of sorted.slice(1)) renamed.set(c.key, lead.key);
    merged.set(lead.key, mergeGroup(sorted));
  }
  if (!merged.size) return [...candidates];
  const out: AdoptCandidate[] = [];
  for (const c of candidates) {
    if (renamed.has(c.key)) continue;
    const m: AdoptCandidate = merged.get(c.key) ?? c;
    if (m.refs) {
      m.refs = Object.fromEntries(
        Object.entries(m.refs).map(([col, key]) => [col, renamed.get(key) ?? key]),
      );
    }
    if (m.together) {
      const keys = m.together.map((k) => renamed.get(k) ?? k).filter((k) => k !== m.key);
      m.together = [...new Set(keys)];
    }
    out.push(m);
  }
  // References compared after renaming: two backends may name one network by different keys.
  for (const m of merged.values()) {
    const conflicts = m.refConflicts?.filter(
      ([, a, b]) => (renamed.get(a) ?? a) !== (renamed.get(b) ?? b),
    );
    if (conflicts?.length && !m.problem) {
      m.problem = conflicts.map(([col, a, b]) => `${col}: ${a} and ${b} differ`).join('; ');
    }
    delete m.refConflicts;
  }
  return out;
}

type Merged = AdoptCandidate & { refConflicts?: [string, string, string][] };

function mergeGroup(sorted: readonly AdoptCandidate[]): Merged {
  const lead = sorted[0]!;
  const told = (c: AdoptCandidate, col: string) =>
    !(c.guessed ?? []).includes(col) && (col in c.values || col in (c.refs ?? {}));
  const values: Record<string, unknown> = {};
  const refs: Record<string, string> = {};
  const from = new Map<string, AdoptCandidate>();
  const problems: string[] = [];
  const refConflicts: [string, string, string][] = [];
  // What backends tell first (in lead order), then guesses for what none tells.
  for (const pass of ['told', 'guessed'] as const) {
    for (const c of sorted) {
      for (const col of new Set([...Object.keys(c.values), ...Object.keys(c.refs ?? {})])) {
        if ((pass === 'told') !== told(c, col)) continue;
        const ref = c.refs?.[col];
        const prior = from.get(col);
        if (!prior) {
          from.set(col, c);
          if (ref !== undefined) refs[col] = ref;
          else values[col] = c.values[col];
          continue;
        }
        if (pass === 'guessed') continue;
        if (ref !== undefined && refs[col] !== undefined) {
          if (ref !== refs[col]) refConflicts.push([col, refs[col], ref]);
        } else if (ref !== undefined || refs[col] !== undefined) {
          problems.push(`${col}: ${prior.backend} and ${c.backend} name different objects`);
        } else if (shown(values[col]) !== shown(c.values[col])) {
          problems.push(
            `${col}: ${prior.backend} says ${shown(values[col])}, ${c.backend} says ${shown(c.values[col])}`,
          );
        }
      }
    }
  }
  for (const c of sorted) {
    if (!c.problem) continue;
    // A problem that is only a guessed column left out: gone when another backend tells it.
    const missing = (c.guessed ?? []).filter(
      (col) => !(col in c.values) && !(col in (c.refs ?? {})),
    );
    const toldElsewhere = (col: string) => from.has(col) && told(from.get(col)!, col);
    if (c.guessOnly && missing.length && missing.every(toldElsewhere)) continue;
    problems.push(sorted.length > 1 ? `${c.backend}: ${c.problem}` : c.problem);
  }
  const facts: Record<string, string> = {};
  const factFrom = new Map<string, string>();
  for (const c of sorted) {
    for (const [fact, value] of Object.entries(c.facts ?? {})) {
      const prior = facts[fact];
      if (prior === undefined) {
        facts[fact] = value;
        factFrom.set(fact, c.backend);
      } else if (prior !== value) {
        problems.push(
          `${fact}: ${factFrom.get(fact) ?? ''} says ${prior}, ${c.backend} says ${value}`,
        );
      }
    }
  }
  const handle: Record<string, string> = {};
  for (const c of sorted) {
    for (const [kind, name] of Object.entries(c.handle)) {
      if (handle[kind] !== undefined && handle[kind] !== name) {
        problems.push(`${kind}: one backend names ${handle[kind]}, ${c.backend} names ${name}`);
      } else handle[kind] = name;
    }
  }
  const out: Merged = {
    ...lead,
    backend: sorted.map((c) => c.backend).join('+'),
    kind: sorted.map((c) => c.kind).join('+'),
    detail: sorted.map((c) => `${c.backend}: ${c.detail}`).join('; '),
    values,
    handle,
    also: sorted.slice(1).map((c) => c.key),
  };
  if (Object.keys(refs).length) out.refs = refs;
  else delete out.refs;
  if (Object.keys(facts).length) out.facts = facts;
  else delete out.facts;
  const together = [...new Set(sorted.flatMap((c) => c.together ?? []))];
  if (together.length) out.together = together;
  else delete out.together;
  const guessed = [...from].filter(([col, c]) => !told(c, col)).map(([col]) => col);
  if (guessed.length) out.guessed = guessed;
  else delete out.guessed;
  if (problems.length) out.problem = problems.join('; ');
  else delete out.problem;
  delete out.guessOnly;
  if (refConflicts.length) out.refConflicts = refConflicts;
  return out;
}

/**
 * The candidates the keys name (a merged candidate by any of its keys), and the keys that name
 * none.
 */
export function pickCandidates(
  candidates: readonly AdoptCandidate[],
  keys: readonly string[],
): { chosen: AdoptCandidate[]; missing: string[] } {
  const names = (c: AdoptCandidate, k: string) => c.key === k || (c.also ?? []).includes(k);
  const missing = keys.filter((k) => !candidates.some((c) => names(c, k)));
  const chosen = candidates.filter((c) => keys.some((k) => names(c, k)));
  return { chosen, missing };
}

/** Every candidate of every source (a source that fails is reported as one problem line). */
export async function discoverAll(
  models: ModelService,
  sources: readonly AdoptSource[],
  filter: AdoptFilter = {},
): Promise<{ candidates: AdoptCandidate[]; failures: string[] }> {
  const found: AdoptCandidate[] = [];
  const failures: string[] = [];
  for (const source of sources) {
    try {
      found.push(...(await source.discover(models, filter)));
    } catch (err) {
      failures.push(`${source.backend}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const candidates = mergeCandidates(found);
  // Adopted, and not marked yet (the synchronizer has not run since): listed, not adoptable.
  if (candidates.length) {
    await models.transaction(async (tx) => {
      for (const c of candidates) {
        if (c.problem || !tx.registry.has(c.model)) continue;
        const already = await adoptedBy(tx, c);
        if (already) c.problem = `adopted already as ${already.model} ${String(already.id)}`;
      }
    });
  }
  return { candidates, failures };
}

/** The candidates in an order where each comes after those it refers to. */
function ordered(candidates: readonly AdoptCandidate[]): AdoptCandidate[] {
  const byKey = new Map(candidates.map((c) => [c.key, c]));
  const out: AdoptCandidate[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: AdoptCandidate, path: string[]) => {
    const s = state.get(c.key);
    if (s === 'done') return;
    if (s === 'visiting') {
      throw new AdoptError(c.key, `refers to itself through ${path.join(' -> ')}`);
    }
    state.set(c.key, 'visiting');
    for (const [column, key] of Object.entries(c.refs ?? {})) {
      const target = byKey.get(key);
      if (!target) {
        throw new AdoptError(
          c.key,
          `${column} refers to ${key}, which is not adopted with it (adopt it too, or first)`,
        );
      }
      visit(target, [...path, key]);
    }
    state.set(c.key, 'done');
    out.push(c);
  };
  for (const c of candidates) visit(c, [c.key]);
  return out;
}

/** An object already adopted from this backend object, if any. */
async function adoptedBy(
  tx: ModelTx,
  c: AdoptCandidate,
): Promise<{ model: string; id: number } | undefined> {
  const m = tx.registry.get(c.model);
  const table = tx.registry.get(m.root);
  for (const [k, v] of Object.entries(c.handle)) {
    const r = await tx.client.query<{ id: number; leaf_model?: string }>(
      `SELECT * FROM ${q(table.table)} WHERE backend_handle ->> $1 = $2 LIMIT 1`,
      [k, v],
    );
    const row = r.rows[0];
    if (row) return { model: row.leaf_model ?? table.name, id: row.id };
  }
  return undefined;
}

/**
 * Creates the candidates' models in one transaction, each with its handle and the policies
 * given; refused as a whole (AdoptError naming the candidate and the reason) when any cannot be
 * adopted: a problem found at discovery, an object adopted already, a value the model refuses
 * (an address IPAM gives someone else: the holder is named). The engine marks the backend
 * objects afterwards; nothing is written to a backend here.
 */
export async function adopt(
  models: ModelService,
  candidates: readonly AdoptCandidate[],
  options: AdoptOptions = {},
): Promise<Adopted[]> {
  for (const c of candidates) if (c.problem) throw new AdoptError(c.key, c.problem);
  const keys = new Set(candidates.map((c) => c.key));
  for (const c of candidates) {
    const left = (c.together ?? []).filter((k) => !keys.has(k));
    if (left.length) {
      throw new AdoptError(c.key, `it must be adopted with ${left.join(', ')} (adopt them too)`);
    }
  }
  const order = ordered(candidates);
  return models.transaction(async (tx) => {
    const ids = new Map<string, number>();
    const out: Adopted[] = [];
    for (const c of order) {
      const already = await adoptedBy(tx, c);
      if (already) {
        throw new AdoptError(c.key, `adopted already as ${already.model} ${String(already.id)}`);
      }
      const values: Record<string, unknown> = { ...c.values };
      for (const [column, key] of Object.entries(c.refs ?? {})) values[column] = ids.get(key);
      if (options.management_policy) values.management_policy = options.management_policy;
      if (options.deletion_policy) values.deletion_policy = options.deletion_policy;
      let made: ModelObject;
      try {
        made = await tx.create(c.model, values);
      } catch (err) {
        if (err instanceof ValidationError) {
          throw new AdoptError(
            c.key,
            `as ${c.model}: ${err.errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`,
          );
        }
        if (err instanceof ModelError) throw new AdoptError(c.key, `as ${c.model}: ${err.message}`);
        throw err;
      }
      const table = tx.registry.get(tx.registry.get(c.model).root).table;
      await tx.client.query(`UPDATE ${q(table)} SET backend_handle = $2 WHERE id = $1`, [
        made.id,
        JSON.stringify(c.handle),
      ]);
      ids.set(c.key, made.id);
      out.push({
        key: c.key,
        model: made.leaf_model,
        id: made.id,
        name: typeof made.name === 'string' ? made.name : null,
      });
      // Crash tests kill the process here, with some models made and the transaction open.
      failpoint('adopt-created');
    }
    return out;
  });
}
