// Adoption from Kubernetes (synchronizer/adopt.ts): namespaces and pods of the default cluster that
// carry no Syncord labels become TrustDomains and KubernetesServiceInstances, and the steps'
// adopt() puts the owner labels (and, on a pod, the spec hash the pod step compares) on them.
//
// A namespace is offered as a TrustDomain of the KubernetesService the filter's `service` names,
// else the first one (a trust domain needs an owner service; with none, it is listed with that
// problem). A pod is offered, in such a
// namespace or in one a TrustDomain names already, only when it is what the pod step would make
// of the model, so that its sync changes nothing but the marks: one container named `main` whose
// image is `name:tag`, no command, environment, ports, resources or volumes but the service
// account token, the default service account (or a slice's Principal's), and no controller. It
// becomes a KubernetesServiceInstance of that service, with an Image (an existing one, or a new
// one adopted with it) and a Slice of its trust domain (an existing one on the default cluster
// whose principal is the pod's service account, or a new one adopted with it when the pod runs as
// `default`); the new Image and Slice have no backend object (an empty handle).
//
// Its Multus interfaces become Ports of it (adopted with it: `together`), each on the Network
// whose NAD it names: one of Syncord's, or the NAD's own candidate. A NAD is offered as a Network
// when its config is what Syncord writes for one (cniConfig: the OVN form, naming its logical
// switch, which goes into the handle), the same in every namespace that has it; one key per name.
// Each interface must ask for its name, one address with the network's prefix and a MAC, and
// the pod's networks annotation must be the very text the pod step writes from those Ports (it
// compares the text: another would replace the pod). Interfaces carry their MAC as identity and
// NADs their subnet, so that the OVN and VTN sides of the same objects merge with them
// (synchronizer/adopt.ts); whose interface it is, OVN and VTN cannot tell, Kubernetes can.
// Anything else is listed with the reason it cannot be adopted yet.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import {
  MANAGED_BY,
  ownerLabels,
  ownerOf,
  type KubeObject,
} from '../../backends/kubernetes/index.js';
import { listAll, type ModelObject, type ModelService } from '../../models/service.js';
import {
  modelNamed,
  networkIdentity,
  portIdentity,
  type AdoptCandidate,
  type AdoptSource,
} from '../../synchronizer/adopt.js';
import { parseCidr } from '../../models/ipam/address.js';
import { connectPointOf, HOST_AT, hostAt } from '../vtn/names.js';
import type { StepContext } from '../../synchronizer/engine.js';
import type { ClusterHandle } from './clusters.js';
import { labelsText } from './marks.js';
import { clustersOfTrustDomain, foreignOwner } from './namespace.js';
import {
  cniConfig,
  nadName,
  NAD_API,
  NAD_KIND,
  NETWORKS,
  networksAnnotation,
  parseNetworks,
  type Attachment,
} from './networks.js';
import { noPodReason, planOf, podObject, SPEC_HASH } from './pod.js';
import { serviceAccountName } from './service-account.js';
import { namespaceOf, ownerOfObject, SYSTEM_NAMESPACES, type Runtime } from './runtime.js';

const KEY = 'kubernetes';
const TOKEN_VOLUME = /^kube-api-access-/;

/** Whether an object carries Syncord's labels (of any deployment). */
const marked = (labels: Record<string, string> | undefined) =>
  labels?.[MANAGED_BY] === 'syncord' ||
  Object.keys(labels ?? {}).some((k) => k.startsWith('syncord.io/'));

/** The pod spec fields Kubernetes fills in on every pod, with the value Syncord's pods get. */
const POD_DEFAULTS: Record<string, unknown> = {
  dnsPolicy: 'ClusterFirst',
  enableServiceLinks: true,
  preemptionPolicy: 'PreemptLowerPriority',
  priority: 0,
  schedulerName: 'default-scheduler',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
  restartPolicy: 'Always',
};
/** Pod spec fields that may be anything (set by Kubernetes, or compared elsewhere). */
const POD_FREE = new Set([
  'containers',
  'volumes',
  'nodeName',
  'serviceAccount',
  'serviceAccountName',
  'tolerations',
]);
/** Container fields Kubernetes fills in (or that are compared elsewhere). */
const CONTAINER_FREE = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'resources',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'volumeMounts',
]);
/** The tolerations the DefaultTolerationSeconds admission adds to every pod. */
const DEFAULT_TOLERATION_KEYS = new Set([
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
]);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const empty = (v: unknown) =>
  v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0);

/** Why a pod is not what Syncord's pod step makes of a KubernetesServiceInstance, if it is not. */
function podProblem(pod: V1Pod): string | undefined {
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  if (meta.deletionTimestamp) return 'it is terminating';
  const controller = (meta.ownerReferences ?? [])[0];
  if (controller) {
    return `it is controlled by ${controller.kind} ${controller.name} (which would replace it)`;
  }
  if (!spec) return 'it has no spec';
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    return `it has ${pod.status.phase === 'Failed' ? 'failed' : 'succeeded'} (Syncord would replace it)`;
  }
  if (spec.containers.length !== 1) {
    return `its spec has ${String(spec.containers.length)} containers: Syncord's pods have one`;
  }
  if (spec.initContainers?.length || spec.ephemeralContainers?.length) {
    return "it has init or ephemeral containers: Syncord's pods have none";
  }
  const odd: string[] = [];
  for (const [k, v] of Object.entries(spec)) {
    if (POD_FREE.has(k) || v === undefined || v === null) continue;
    if (!(k in POD_DEFAULTS) || !same(v, POD_DEFAULTS[k])) odd.push(k);
  }
  if ((spec.tolerations ?? []).some((t) => !DEFAULT_TOLERATION_KEYS.has(t.key ?? ''))) {
    odd.push('tolerations');
  }
  if (odd.length) return `its spec sets ${odd.sort().join(', ')}: Syncord's pods do not`;
  const tokenVolumes = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (!TOKEN_VOLUME.test(v.name) || !v.projected) {
      return `it has the volume ${v.name}: Syncord's pods have none but the service account token`;
    }
    tokenVolumes.add(v.name);
  }
  const c = spec.containers[0]!;
  if (c.name !== 'main') {
    return `its container is named ${c.name}: Syncord's pods' container is main`;
  }
  const set = Object.entries(c)
    .filter(([k, v]) => !CONTAINER_FREE.has(k) && !empty(v) && v !== false)
    .map(([k]) => k);
  if (set.length) return `its container sets ${set.sort().join(', ')}: Syncord's pods' does not`;
  if (!empty(c.resources?.limits) || !empty(c.resources?.requests) || !empty(c.resources?.claims)) {
    return 'it has resource requests or limits: a KubernetesServiceInstance has no flavor';
  }
  if ((c.volumeMounts ?? []).some((m) => !tokenVolumes.has(m.name))) {
    return "its container mounts volumes: Syncord's pods mount none but the service account token";
  }
  return undefined;
}

/** `name:tag` split, or why the image reference cannot be an Image. */
function splitImage(ref: string | undefined): { name: string; tag: string } | string {
  if (!ref) return 'its container has no image';
  if (ref.includes('@')) {
    return `its image ${ref} is pinned by digest: Syncord's pods name images as name:tag`;
  }
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/')) {
    return `its image ${ref} has no tag: Syncord's pods name images as name:tag`;
  }
  return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** JSON with its object keys sorted: two texts of one meaning compare equal. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

type Nad = KubeObject & { spec?: { config?: string } };

/**
 * What a NetworkAttachmentDefinition would be as a Network, or why it cannot be adopted: only
 * the OVN form Syncord writes (cniConfig) can, the same in every namespace that has it.
 */
function nadNetwork(
  rt: Runtime,
  name: string,
  nads: readonly Nad[],
): Pick<AdoptCandidate, 'values' | 'handle' | 'detail' | 'identity' | 'problem' | 'guessed'> {
  const where = nads.map((n) => n.metadata?.namespace ?? '').join(', ');
  const configs = new Set(nads.map((n) => n.spec?.config ?? ''));
  const values: Record<string, unknown> = { name };
  const handle: Record<string, string> = { [`${KEY}/${NAD_KIND}`]: name };
  const out = (detail: string, problem?: string) => ({
    values,
    handle,
    detail: `NAD ${name} in ${where}: ${detail}`,
    ...(problem ? { problem } : {}),
  });
  if (configs.size > 1) return out('configs differ', 'its config differs between namespaces');
  let config: Record<string, unknown>;
  try {
    const parsed = JSON.parse([...configs][0] ?? '') as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('no object');
    config = parsed as Record<string, unknown>;
  } catch {
    return out('no JSON config', 'its config is not a JSON object');
  }
  const type = typeof config.type === 'string' ? config.type : '';
  const ovn = rt.options.ovnCniType ?? 'ovn4nfvk8s-cni';
  if (type !== ovn) {
    return out(
      `CNI ${type || 'unknown'}`,
      `its CNI is ${type || 'not named'}: only OVN networks (${ovn}) can be adopted yet`,
    );
  }
  const { logical_switch: sw, subnet } = config;
  if (typeof sw !== 'string' || !sw || typeof subnet !== 'string') {
    return out('OVN', 'its config names no logical_switch or subnet');
  }
  let cidr: string;
  try {
    cidr = parseCidr(subnet).cidr;
  } catch (err) {
    return out(`OVN ${subnet}`, `its subnet ${subnet}: ${(err as Error).message}`);
  }
  Object.assign(values, { provider: 'ovn', subnet: cidr, type: 'FLAT', dhcp: false });
  if (typeof config.gateway === 'string') values.gateway = config.gateway;
  if (typeof config.mtu === 'number') values.mtu = config.mtu;
  if (typeof config.segment_id === 'number') values.segment_id = config.segment_id;
  const dns = (config.dns as { nameservers?: unknown } | undefined)?.nameservers;
  if (Array.isArray(dns)) values.dns_servers = dns.join(' ');
  handle['ovn/Logical_Switch'] = sw;
  const detail = `OVN switch ${sw}, ${cidr}`;
  const ident = { identity: networkIdentity(cidr), guessed: ['type', 'dhcp'] };
  // What Syncord would write for the Network these values make: the same, or it would differ.
  const network = { id: 0, ...values, backend_handle: handle } as unknown as ModelObject;
  let wanted: Record<string, unknown> | undefined;
  try {
    wanted = cniConfig(rt.options, network, nadName(network));
  } catch (err) {
    return { ...out(detail, `its config: ${(err as Error).message}`), ...ident };
  }
  if (nadName(network) !== name) {
    return { ...out(detail, `its name is no DNS label Syncord would give it`), ...ident };
  }
  if (canonical(wanted) !== canonical(config)) {
    const keys = [...new Set([...Object.keys(wanted), ...Object.keys(config)])].filter(
      (k) => canonical(wanted[k]) !== canonical(config[k]),
    );
    return {
      ...out(
        detail,
        `its config differs from what Syncord writes for it (${keys.sort().join(', ')})`,
      ),
      ...ident,
    };
  }
  return { ...out(detail), ...ident };
}

const first = async (models: ModelService, model: string): Promise<ModelObject | undefined> =>
  (await models.list(model, { orderBy: [{ field: 'id' }], pageSize: 1 })).items[0];

/** Namespaces and pods without Syncord labels, as candidates. */
export function kubernetesAdoptSource(
  rt: Runtime,
  /** Whether the deployment's OVN steps run (pods' interfaces then name their switch ports). */
  options: { ovn?: boolean } = {},
): AdoptSource {
  return {
    backend: KEY,
    async discover(models, filter) {
      const kinds = filter.kinds?.length ? new Set(filter.kinds) : undefined;
      const h = await rt.clusters.default(models);
      const named = filter.service
        ? await modelNamed(models, 'KubernetesService', filter.service)
        : await first(models, 'KubernetesService');
      const service = typeof named === 'string' ? undefined : named;
      const noService =
        typeof named === 'string'
          ? named
          : 'a KubernetesService must exist first (it owns the trust domain and the instances)';
      const site = await first(models, 'Site');

      // The trust domains Syncord has, by namespace (their own, adopted and observed ones).
      const tds = new Map<string, ModelObject>();
      for (const td of await listAll(models, 'TrustDomain')) {
        try {
          tds.set(namespaceOf(td), td);
        } catch {
          // a name that is no namespace has no pods to adopt
        }
      }

      const selected = async (selector?: string) => {
        const all = await h.cluster.list<V1Namespace>('v1', 'Namespace', undefined, selector);
        return all.filter((n) => !filter.namespace || n.metadata?.name === filter.namespace);
      };
      const namespaces = await selected();
      const matching = new Set(
        (filter.selector ? await selected(filter.selector) : namespaces).map(
          (n) => n.metadata?.name ?? '',
        ),
      );

      // Namespaces as TrustDomain candidates; where pods may be adopted (the key of the
      // namespace's candidate, or the trust domain).
      const nsCandidates = new Map<string, AdoptCandidate>();
      const places = new Map<string, { td?: ModelObject; key?: string }>();
      for (const ns of namespaces) {
        const name = ns.metadata?.name ?? '';
        const labels = ns.metadata?.labels;
        const td = tds.get(name);
        const owner = ownerOf(rt.instance, labels);
        if (td && (!marked(labels) || (owner?.model === 'TrustDomain' && owner.id === td.id))) {
          places.set(name, { td });
          continue;
        }
        if (marked(labels) || SYSTEM_NAMESPACES.has(name) || name.startsWith('kube-')) continue;
        const key = `${KEY}/Namespace/${name}`;
        const problem = ns.metadata?.deletionTimestamp
          ? 'it is terminating'
          : !service
            ? noService
            : undefined;
        nsCandidates.set(name, {
          key,
          backend: KEY,
          kind: 'Namespace',
          name,
          cluster: h.label,
          detail: `namespace ${name}: ${ns.status?.phase ?? 'no phase'}${labelsText(labels)}`,
          model: 'TrustDomain',
          values: { name, ...(service ? { owner_id: service.id } : {}) },
          handle: { [`${KEY}/Namespace`]: name },
          ...(problem ? { problem } : {}),
        });
        places.set(name, { key });
      }

      const out = new Map<string, AdoptCandidate>();
      const add = (c: AdoptCandidate) => {
        if (!out.has(c.key)) out.set(c.key, c);
      };
      if (!kinds || kinds.has('Namespace')) {
        for (const [name, c] of nsCandidates) if (matching.has(name)) add(c);
      }
      // NADs (by name: one Network has one in every namespace that uses it), and Syncord's
      // Networks by the NAD name they give.
      const nadCandidates = new Map<string, AdoptCandidate>();
      if (!kinds || kinds.has('Pod') || kinds.has(NAD_KIND)) {
        const byName = new Map<string, Nad[]>();
        for (const nad of await h.cluster.list<Nad>(NAD_API, NAD_KIND, filter.namespace)) {
          const ns = nad.metadata?.namespace ?? '';
          if (marked(nad.metadata?.labels) || !places.has(ns)) continue;
          const name = nad.metadata?.name ?? '';
          byName.set(name, [...(byName.get(name) ?? []), nad]);
        }
        for (const [name, nads] of byName) {
          nadCandidates.set(name, {
            key: `${KEY}/${NAD_KIND}/${name}`,
            backend: KEY,
            kind: NAD_KIND,
            name,
            cluster: h.label,
            model: 'Network',
            ...nadNetwork(rt, name, nads),
          });
        }
        if (!kinds || kinds.has(NAD_KIND)) for (const c of nadCandidates.values()) add(c);
      }
      const networksByNad = new Map<string, ModelObject>();
      for (const n of await listAll(models, 'Network')) networksByNad.set(nadName(n), n);
      if (kinds && !kinds.has('Pod')) return [...out.values()];

      // Names already used by service instances (names are unique among them).
      const instanceNames = new Map<string, ModelObject>();
      const pods = await h.cluster.list<V1Pod>('v1', 'Pod', filter.namespace, filter.selector);
      const slicesOf = new Map<number, ModelObject[]>();
      for (const pod of pods) {
        const ns = pod.metadata?.namespace ?? '';
        const name = pod.metadata?.name ?? '';
        const place = places.get(ns);
        if (!place || marked(pod.metadata?.labels)) continue;
        const nsCandidate = place.key ? nsCandidates.get(ns) : undefined;
        const refs: Record<string, string> = {};
        const values: Record<string, unknown> = {
          name,
          ...(service ? { owner_id: service.id } : {}),
        };
        const needs: AdoptCandidate[] = [];
        const problems: string[] = [];
        const spec = podProblem(pod);
        if (spec) problems.push(spec);
        if (!service) problems.push(noService);
        if (nsCandidate?.problem) problems.push(`its namespace: ${nsCandidate.problem}`);
        if (nsCandidate) needs.push(nsCandidate);

        // Its name, as a ServiceInstance's.
        if (!instanceNames.has(name)) {
          const page = await models.list('ServiceInstance', {
            filter: [{ field: 'name', value: name }],
            pageSize: 1,
          });
          if (page.items[0]) instanceNames.set(name, page.items[0]);
        }
        const holder = instanceNames.get(name);
        // One adopted from this pod is said so by discoverAll.
        const from = (holder?.backend_handle as Record<string, unknown> | null | undefined)?.[
          `${KEY}/Pod`
        ];
        if (holder && from !== `${ns}/${name}`) {
          problems.push(
            `${holder.leaf_model} ${String(holder.id)} is named ${name} already (service instance names are unique)`,
          );
        }
        // Claimed by another pod of the same name listed before it.
        for (const c of out.values()) {
          if (c.kind === 'Pod' && c.name === name) {
            problems.push(`the pod ${c.namespace ?? ''}/${name} is listed under that name already`);
          }
        }

        // Its image.
        const ref = pod.spec?.containers[0]?.image;
        const image = splitImage(ref);
        if (typeof image === 'string') problems.push(image);
        else {
          const known = (
            await models.list('Image', {
              filter: [
                { field: 'name', value: image.name },
                { field: 'tag', value: image.tag },
              ],
              pageSize: 1,
            })
          ).items[0];
          if (known?.kind === 'vm') problems.push(`Image ${ref ?? ''} is a VM image`);
          else if (known) values.image_id = known.id;
          else {
            const key = `${KEY}/Image/${ref ?? ''}`;
            refs.image_id = key;
            needs.push({
              key,
              backend: KEY,
              kind: 'Image',
              name: ref ?? '',
              detail: `no backend object: the image of pod ${ns}/${name}`,
              model: 'Image',
              values: { name: image.name, tag: image.tag, kind: 'container' },
              handle: {},
            });
          }
        }

        // Its slice: one of the trust domain's on the default cluster whose principal is the
        // pod's service account, or a new one (service account default only).
        const account = pod.spec?.serviceAccountName ?? 'default';
        let slice: ModelObject | undefined;
        if (place.td) {
          let list = slicesOf.get(place.td.id);
          if (!list) {
            list = await listAll(models, 'Slice', {
              filter: [{ field: 'trust_domain', value: place.td.id }],
              orderBy: [{ field: 'id' }],
            });
            slicesOf.set(place.td.id, list);
          }
          for (const s of list) {
            const on = await rt.clusters.forSlice(models, s).catch(() => undefined);
            if (on?.key !== h.key) continue;
            let sa = 'default';
            if (typeof s.principal_id === 'number') {
              const p = await models.get('Principal', s.principal_id).catch(() => undefined);
              if (!p) continue;
              sa = serviceAccountName(p);
            }
            if (sa === account) {
              slice = s;
              break;
            }
          }
        }
        if (slice) values.slice_id = slice.id;
        else if (account !== 'default') {
          problems.push(
            `it runs as the service account ${account}, which is no Principal of a slice of its trust domain (adopting service accounts is not done yet)`,
          );
        } else {
          const sliceName = `${ns}-slice`;
          const key = `${KEY}/Slice/${ns}/${sliceName}`;
          const taken = place.td && slicesOf.get(place.td.id)?.find((s) => s.name === sliceName);
          if (taken) {
            problems.push(
              `no slice of trust domain ${ns} fits it, and the slice ${sliceName} it would get exists (its cluster or principal differ)`,
            );
          } else {
            if (!site) problems.push('a Site must exist first (a slice needs one)');
            refs.slice_id = key;
            needs.push({
              key,
              backend: KEY,
              kind: 'Slice',
              name: sliceName,
              namespace: ns,
              detail: `no backend object: the slice of the pods adopted in namespace ${ns}`,
              model: 'Slice',
              values: {
                name: sliceName,
                ...(site ? { site_id: site.id } : {}),
                ...(service ? { service_id: service.id } : {}),
                ...(place.td ? { trust_domain_id: place.td.id } : {}),
              },
              ...(place.key ? { refs: { trust_domain_id: place.key } } : {}),
              handle: {},
            });
          }
        }

        // Its Multus interfaces: Ports of the instance, on the Networks their NADs stand for.
        const podKey = `${KEY}/Pod/${ns}/${name}`;
        const interfaces: AdoptCandidate[] = [];
        const attachments: Attachment[] = [];
        const raw = pod.metadata?.annotations?.[NETWORKS];
        for (const sel of parseNetworks(raw, ns)) {
          const iface = sel.interface ?? '';
          const why: string[] = [];
          const ipText = sel.ips?.length === 1 ? sel.ips[0]! : undefined;
          const [ip, prefix] = (ipText ?? '').split('/');
          if (sel.namespace !== ns) why.push(`it uses the NAD ${sel.namespace ?? ''}/${sel.name}`);
          if (!iface || !ipText || !prefix || !sel.mac) {
            why.push(
              "it does not ask for its interface name, one address with its prefix and a MAC, as Syncord's pods do",
            );
          }
          const refs: Record<string, string> = { service_instance_id: podKey };
          const values: Record<string, unknown> = {
            name: `${name}-${iface}`,
            interface_name: iface,
            ...(ip ? { ip } : {}),
            ...(sel.mac ? { mac: sel.mac.toLowerCase() } : {}),
          };
          const known = networksByNad.get(sel.name);
          const nadCandidate = nadCandidates.get(sel.name);
          let network: Record<string, unknown> | undefined;
          if (known) {
            values.network_id = known.id;
            network = known;
          } else if (nadCandidate) {
            refs.network_id = nadCandidate.key;
            needs.push(nadCandidate);
            network = nadCandidate.values;
            if (nadCandidate.problem) why.push(`its network ${sel.name}: ${nadCandidate.problem}`);
          } else {
            why.push(`its NAD ${sel.name} is neither a Network's nor one to adopt`);
          }
          if (network && prefix && typeof network.subnet === 'string') {
            try {
              if (String(parseCidr(network.subnet).prefix) !== prefix) {
                why.push(`its address ${ipText ?? ''} has another prefix than ${network.subnet}`);
              }
            } catch {
              // the network's own problem says so
            }
          }
          const ovnPort = sel['cni-args']?.ovnPort;
          const handle: Record<string, string> = {
            [`${KEY}/Interface`]: `${ns}/${name}/${iface}`,
            ...(ovnPort ? { 'ovn/Logical_Switch_Port': ovnPort } : {}),
          };
          const port = { id: 0, ...values, backend_handle: handle } as unknown as ModelObject;
          attachments.push({
            port,
            network: { id: 0, provider: 'ovn', ...network } as unknown as ModelObject,
            nad: sel.name,
            interface: iface,
            ip: ipText ?? '',
            mac: sel.mac ?? '',
          });
          if (why.length) problems.push(`its interface ${iface || sel.name}: ${why.join('; ')}`);
          interfaces.push({
            key: `${KEY}/Interface/${ns}/${name}/${iface || sel.name}`,
            backend: KEY,
            kind: 'Interface',
            name: `${name}/${iface}`,
            namespace: ns,
            cluster: h.label,
            detail: `interface ${iface} of pod ${ns}/${name} on ${sel.name}: ${ipText ?? 'no address'} ${sel.mac ?? 'no MAC'}`,
            model: 'Port',
            values,
            refs,
            handle,
            together: [podKey],
            ...(sel.mac ? { identity: portIdentity(sel.mac) } : {}),
            // Made up: the interface has no name of its own but its interface name.
            guessed: ['name'],
            // Its VTN host, if VTN shows one, must be where Syncord detects it: its node's
            // device, at its interface.
            ...(pod.spec?.nodeName && iface
              ? { facts: { [HOST_AT]: hostAt(connectPointOf(pod.spec.nodeName, iface)) } }
              : {}),
            ...(why.length ? { problem: why.join('; ') } : {}),
          });
        }
        // The pod step writes the annotation from the Ports: unless it is that same text, the
        // pod would be replaced.
        if (raw && !problems.length) {
          const wanted = networksAnnotation(ns, attachments, rt.instance, options.ovn);
          if (wanted !== raw) {
            problems.push(
              `its ${NETWORKS} is not the text Syncord writes for these interfaces (the pod would be replaced): ${wanted ?? 'none'}`,
            );
          }
        }

        const phase = pod.status?.phase ?? 'Pending';
        const problem = problems[0];
        for (const c of needs) add(c);
        add({
          key: podKey,
          backend: KEY,
          kind: 'Pod',
          name,
          namespace: ns,
          cluster: h.label,
          detail: `pod ${ns}/${name}: ${phase}${pod.spec?.nodeName ? ` on ${pod.spec.nodeName}` : ''}, ${ref ?? 'no image'}${labelsText(pod.metadata?.labels)}`,
          model: 'KubernetesServiceInstance',
          values,
          ...(Object.keys(refs).length ? { refs } : {}),
          handle: { [`${KEY}/Pod`]: `${ns}/${name}` },
          ...(interfaces.length ? { together: interfaces.map((c) => c.key) } : {}),
          ...(problem ? { problem } : {}),
        });
        for (const c of interfaces) {
          add(problem && !c.problem ? { ...c, problem: `its pod: ${problem}` } : c);
        }
      }
      return [...out.values()];
    },
  };
}

/** Adds labels and annotations an object lacks (a merge patch), or says it has them. */
async function mark(
  h: ClusterHandle,
  obj: V1Namespace | V1Pod,
  kind: 'Namespace' | 'Pod',
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): Promise<boolean> {
  const missing = (have: Record<string, string> | undefined, want: Record<string, string>) =>
    Object.fromEntries(Object.entries(want).filter(([k, v]) => have?.[k] !== v));
  const l = missing(obj.metadata?.labels, labels);
  const a = missing(obj.metadata?.annotations, annotations);
  if (Object.keys(l).length === 0 && Object.keys(a).length === 0) return false;
  const patched = await h.cluster.mergePatch(
    'v1',
    kind,
    obj.metadata?.namespace,
    obj.metadata?.name ?? '',
    {
      metadata: {
        ...(Object.keys(l).length ? { labels: l } : {}),
        ...(Object.keys(a).length ? { annotations: a } : {}),
        // Only the object adopted: not one made again under the same name meanwhile.
        uid: obj.metadata?.uid,
      },
    },
  );
  if (!patched) throw new Error(`${kind} ${obj.metadata?.name ?? ''} is not there`);
  return true;
}

/** The namespace step's adopt(): the trust domain's owner labels onto its namespace. */
export function adoptNamespace(rt: Runtime) {
  return async (td: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    const ns = namespaceOf(td);
    const owner = ownerOfObject(td);
    const def = await rt.clusters.default(ctx.models);
    const handles = await clustersOfTrustDomain(rt, ctx.models, td);
    const said: string[] = [];
    for (const h of handles) {
      const where = handles.length > 1 ? ` in ${h.label}` : '';
      const live = await h.cluster.get<V1Namespace>('v1', 'Namespace', undefined, ns);
      if (!live) {
        // Only the default cluster's was adopted; the sync makes the others.
        if (h.key === def.key) throw new Error(`Namespace ${ns}${where} is not there`);
        continue;
      }
      const other = foreignOwner(rt, live.metadata?.labels, owner);
      if (other) throw new Error(`namespace ${ns}${where} belongs to ${other}`);
      const done = await mark(h, live, 'Namespace', ownerLabels(rt.instance, owner));
      said.push(done ? `marked namespace ${ns}${where}` : `namespace ${ns}${where} marked already`);
    }
    return said.join(', ') || undefined;
  };
}

/**
 * The pod step's adopt(): the instance's owner labels, and the spec hash of the pod its model
 * makes (so that the sync finds the pod up to date rather than replacing it), onto its pod.
 */
export function adoptPod(rt: Runtime) {
  return async (si: ModelObject, ctx: StepContext): Promise<string | undefined> => {
    if (noPodReason(si)) return undefined;
    const plan = await planOf(rt, ctx.models, si);
    const where = `${plan.namespace}/${plan.name}`;
    const live = await plan.handle.cluster.get<V1Pod>('v1', 'Pod', plan.namespace, plan.name);
    if (!live) throw new Error(`Pod ${where} is not there`);
    const other = foreignOwner(rt, live.metadata?.labels, plan.owner);
    if (other) throw new Error(`pod ${where} belongs to ${other}`);
    const desired = podObject(rt, plan);
    const hash = desired.metadata?.annotations?.[SPEC_HASH] ?? '';
    const done = await mark(plan.handle, live, 'Pod', ownerLabels(rt.instance, plan.owner), {
      [SPEC_HASH]: hash,
    });
    return done ? `marked pod ${where}` : `pod ${where} marked already`;
  };
}
