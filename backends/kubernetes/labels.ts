// Ownership on every object Syncord makes: who manages it, which Syncord deployment (several may
// share a cluster, each with its own database), and the model object it belongs to. Everything a
// crash left half done is found again by these labels; names are deterministic, so a second
// apply finishes what the first began instead of making a twin.

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'syncord';
export const INSTANCE = 'syncord.io/instance';
export const MODEL = 'syncord.io/model';
export const ID = 'syncord.io/id';

export interface Owner {
  model: string;
  id: number;
}

export function ownerLabels(instance: string, owner: Owner): Record<string, string> {
  return {
    [MANAGED_BY]: MANAGER,
    [INSTANCE]: instance,
    [MODEL]: owner.model,
    [ID]: String(owner.id),
  };
}

/** Every object of this Syncord deployment. */
export function managedSelector(instance: string): string {
  return `${MANAGED_BY}=${MANAGER},${INSTANCE}=${instance}`;
}

/** The objects of one model object. */
export function ownerSelector(instance: string, owner: Owner): string {
  return `${managedSelector(instance)},${MODEL}=${owner.model},${ID}=${String(owner.id)}`;
}

/** The owner named by an object's labels, if it is this deployment's. */
export function ownerOf(
  instance: string,
  labels: Record<string, string> | undefined,
): Owner | undefined {
  if (!labels || labels[MANAGED_BY] !== MANAGER || labels[INSTANCE] !== instance) return undefined;
  const model = labels[MODEL];
  const id = Number(labels[ID]);
  return model && Number.isSafeInteger(id) && id > 0 ? { model, id } : undefined;
}

/** Whether the labels say the object belongs to exactly this owner. */
export function ownedBy(
  instance: string,
  labels: Record<string, string> | undefined,
  owner: Owner,
): boolean {
  const o = ownerOf(instance, labels);
  return o?.model === owner.model && o.id === owner.id;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** RFC 1123 label: namespaces, pod names that must also be host names. */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/** RFC 1123 subdomain: most object names (service accounts, config maps, ...). */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/** `name` when it is a DNS label, else `<kind>-<id>` (deterministic either way). */
export function dnsSafeName(name: unknown, kind: string, id: number): string {
  return typeof name === 'string' && isDnsLabel(name)
    ? name
    : `${kind.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${String(id)}`;
}
