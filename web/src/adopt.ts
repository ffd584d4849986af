// Adoption (the /adopt page): the gateway's JSON for GET adoptable and POST adopt, and the page's
// pure helpers (queries, selection, texts). No imports: the tests run it in Node as it is.

/** A backend object with no Syncord owner mark, and the model it would become. */
export interface AdoptCandidate {
  /** Unique: "<backend>/<kind>/<namespace/>name". */
  key: string;
  backend: string;
  kind: string;
  name: string;
  namespace: string;
  cluster: string;
  /** One line: what it is, as observed. */
  detail: string;
  /** The model it would become, and its values (by column). */
  model: string;
  values: Record<string, unknown>;
  /** References to other candidates, by column: the candidate's key. */
  refs: Record<string, string>;
  /** What the steps call its backend objects, by "<backend>/<kind>". */
  handle: Record<string, string>;
  /** Merged from several backends' candidates of one object: the others' keys. */
  also: string[];
  /** Candidates that must be adopted with it (a pod's interfaces), by key. */
  together: string[];
  /** Why it cannot be adopted as it is ('' when it can). */
  problem: string;
}

/** GET adoptable: the candidates, and the backends that could not be listed. */
export interface Adoptable {
  candidates: AdoptCandidate[];
  failures: string[];
}

/** One object POST adopt made. */
export interface AdoptedObject {
  key: string;
  model: string;
  id: number;
  name: string;
}

/** The page's filter, as typed (lists comma-separated). */
export interface AdoptFilter {
  backends: string;
  kinds: string;
  namespace: string;
  selector: string;
  /** OVN, VTN: the ServiceInstance the adopted ports belong to. */
  instance: string;
  /** Kubernetes: the KubernetesService that owns what is adopted. */
  service: string;
}

export const NO_FILTER: AdoptFilter = {
  backends: '',
  kinds: '',
  namespace: '',
  selector: '',
  instance: '',
  service: '',
};

export const MANAGEMENT_POLICIES = ['full', 'observe', 'create-only'] as const;
export type ManagementPolicy = (typeof MANAGEMENT_POLICIES)[number];
export const DELETION_POLICIES = ['delete', 'orphan'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/** What each policy means, one line each (as the API's field help says it). */
export const POLICY_MEANING: Record<ManagementPolicy | DeletionPolicy, string> = {
  full: 'Syncord creates, updates and repairs the backend objects to match the model.',
  observe: 'Syncord only reads the backend objects into the status; it never writes them.',
  'create-only':
    'Syncord created them once (here: adopted); later edits of the model are not applied.',
  delete: 'Deleting the object tears its backend objects down.',
  orphan:
    "Deleting the object takes Syncord's owner marks off its backend objects and leaves them running.",
};

/** "ovn, kubernetes" → ["ovn", "kubernetes"]. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The query of GET adoptable for a filter ("" when it filters nothing). */
export function adoptableQuery(f: AdoptFilter): string {
  const q = new URLSearchParams();
  const backends = splitList(f.backends);
  const kinds = splitList(f.kinds);
  if (backends.length) q.set('backends', backends.join(','));
  if (kinds.length) q.set('kinds', kinds.join(','));
  if (f.namespace.trim()) q.set('namespace', f.namespace.trim());
  if (f.selector.trim()) q.set('selector', f.selector.trim());
  if (f.instance.trim()) q.set('instance', f.instance.trim());
  if (f.service.trim()) q.set('service', f.service.trim());
  return q.toString();
}

/**
 * The body of POST adopt: the keys chosen, the policies, and the filter the candidates were listed
 * with (the server lists again with it and adopts the keys among what it finds). Never called
 * with no keys: an empty list would adopt every candidate.
 */
export function adoptBody(
  f: AdoptFilter,
  keys: readonly string[],
  management: ManagementPolicy,
  deletion: DeletionPolicy,
): Record<string, unknown> {
  if (!keys.length) throw new Error('nothing chosen to adopt');
  return {
    keys: [...keys],
    management_policy: management,
    deletion_policy: deletion,
    backends: splitList(f.backends),
    kinds: splitList(f.kinds),
    namespace: f.namespace.trim(),
    selector: f.selector.trim(),
    instance: f.instance.trim(),
    service: f.service.trim(),
  };
}

/** A candidate as the gateway sends it, with the fields it may leave out filled in. */
export function normalizeCandidate(c: Partial<AdoptCandidate>): AdoptCandidate {
  return {
    key: c.key ?? '',
    backend: c.backend ?? '',
    kind: c.kind ?? '',
    name: c.name ?? '',
    namespace: c.namespace ?? '',
    cluster: c.cluster ?? '',
    detail: c.detail ?? '',
    model: c.model ?? '',
    values: c.values ?? {},
    refs: c.refs ?? {},
    handle: c.handle ?? {},
    problem: c.problem ?? '',
    also: c.also ?? [],
    together: c.together ?? [],
  };
}

/** Whether a candidate may be chosen (one with a problem would be refused). */
export function selectable(c: AdoptCandidate): boolean {
  return !c.problem;
}

/**
 * The selection after ticking or unticking a candidate. Ticking one also ticks the candidates it
 * refers to (a Port's Network) and those it must be adopted with (a pod's interfaces),
 * transitively: adopted without them it would be refused. Unticking one unticks only it.
 */
export function toggle(
  candidates: readonly AdoptCandidate[],
  selected: ReadonlySet<string>,
  key: string,
  on: boolean,
): Set<string> {
  const out = new Set(selected);
  if (!on) {
    out.delete(key);
    return out;
  }
  const byKey = new Map(candidates.map((c) => [c.key, c]));
  const add = (k: string) => {
    const c = byKey.get(k);
    if (!c || !selectable(c) || out.has(k)) return;
    out.add(k);
    for (const ref of [...Object.values(c.refs), ...c.together]) add(ref);
  };
  add(key);
  return out;
}

/** Chosen candidates that refer to a candidate not chosen: "<key> needs <key>" (it would be refused). */
export function missingRefs(
  candidates: readonly AdoptCandidate[],
  selected: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const c of candidates) {
    if (!selected.has(c.key)) continue;
    for (const ref of [...Object.values(c.refs), ...c.together]) {
      if (!selected.has(ref)) out.push(`${c.key} needs ${ref}`);
    }
  }
  return out;
}

/** The name the object would get: its values' name, else the backend's. */
export function becomesName(c: AdoptCandidate): string {
  return typeof c.values.name === 'string' && c.values.name ? c.values.name : c.name;
}

/** Where a candidate lives: "namespace @ cluster", either alone, or "". */
export function placeOf(c: AdoptCandidate): string {
  return [c.namespace, c.cluster].filter(Boolean).join(' @ ');
}

/** The confirmation asked before adopting. */
export function confirmText(n: number): string {
  return `Adopt ${String(n)} object${n === 1 ? '' : 's'}? The models are created in one transaction; the synchronizer then adds Syncord's owner marks and changes nothing else.`;
}

/**
 * An object's backend_handle for a person: "ovn/Logical_Switch ls1, kubernetes/Pod web-1"
 * ("" when it has none: it was not adopted).
 */
export function handleText(handle: unknown): string {
  if (typeof handle !== 'object' || handle === null || Array.isArray(handle)) return '';
  return Object.entries(handle as Record<string, unknown>)
    .map(([where, name]) => `${where} ${typeof name === 'string' ? name : JSON.stringify(name)}`)
    .join(', ');
}

/**
 * Whether a user may adopt: admins, and operators of every trust domain (adoption spans trust
 * domains; the API refuses the others).
 */
export function mayAdopt(user: { role: string; trust_domain_id?: number | null }): boolean {
  if (user.role === 'admin') return true;
  return user.role === 'operator' && !user.trust_domain_id;
}

/**
 * The candidate a refusal names ("<key>: <reason>", as the API's AdoptError says it), if it is
 * one of those listed.
 */
export function refusedKey(message: string, candidates: readonly AdoptCandidate[]): string {
  let best = '';
  for (const c of candidates) {
    if (message.startsWith(`${c.key}: `) && c.key.length > best.length) best = c.key;
  }
  return best;
}
