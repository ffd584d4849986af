// The service graph's model, apart from React: the objects it shows, how a watch event changes
// them, and the layout (dagre): Services with their ServiceDependency edges on top; below, one
// group per TrustDomain holding its service instances (by their slice) and the networks they
// attach to, an edge instance → network per Port.
import dagre from '@dagrejs/dagre';
import type { Registry } from './registry';
import type { Obj, WatchEvent } from './types';
import { normalize } from './livetable';

export const GRAPH_MODELS = [
  'Service',
  'ServiceDependency',
  'TrustDomain',
  'Slice',
  'ServiceInstance',
  'Network',
  'Port',
] as const;
export type GraphModel = (typeof GRAPH_MODELS)[number];

export type GraphStore = Record<GraphModel, Map<number, Obj>>;

export const NODE_W = 190;
export const NODE_H = 58;
const GROUP_PAD = 24;
const GROUP_TITLE = 34;
const GAP = 70;
const WRAP_WIDTH = 2600;

/** The graph model a change belongs to (an event of a VSGServiceInstance is a ServiceInstance's). */
export function graphModelOf(registry: Registry, model: string): GraphModel | undefined {
  return GRAPH_MODELS.find(
    (g) => g === model || (registry.byName.get(g)?.family.includes(model) ?? false),
  );
}

export function applyEvent(store: GraphStore, registry: Registry, e: WatchEvent): GraphStore {
  const g = graphModelOf(registry, e.model);
  if (!g) return store;
  const map = new Map(store[g]);
  if (e.op === 'reap' || !e.object) map.delete(e.id);
  else {
    const fields = registry.byName.get(e.model)?.fields ?? [];
    map.set(e.id, { ...map.get(e.id), ...normalize(e.object, fields) });
  }
  return { ...store, [g]: map };
}

const ref = (o: Obj | undefined, field: string): number =>
  o && typeof o[field] === 'number' ? o[field] : 0;

export interface NodeSpec {
  id: string;
  /** The graph's model (Service, ServiceInstance, Network, TrustDomain) and the object's own. */
  model: string;
  leaf: string;
  objId: number;
  name: string;
  subtitle: string;
  parent?: string;
  group: boolean;
}

export interface EdgeSpec {
  id: string;
  source: string;
  target: string;
  label: string;
  /** The object the edge stands for (a Port, a ServiceDependency), for its colour. */
  model: string;
  objId: number;
}

export interface Structure {
  nodes: NodeSpec[];
  edges: EdgeSpec[];
}

const nameOf = (o: Obj, model: string) =>
  typeof o.name === 'string' && o.name ? o.name : `${model} #${String(o.id)}`;
const leafOf = (o: Obj, model: string) =>
  typeof o.leaf_model === 'string' && o.leaf_model ? o.leaf_model : model;

/** What the graph shows, without positions. */
export function structureOf(s: GraphStore): Structure {
  const nodes: NodeSpec[] = [];
  const edges: EdgeSpec[] = [];
  const node = (model: string, o: Obj, subtitle: string, parent?: string): NodeSpec => ({
    id: `${model}-${String(o.id)}`,
    model,
    leaf: leafOf(o, model),
    objId: o.id,
    name: nameOf(o, model),
    subtitle,
    ...(parent ? { parent } : {}),
    group: false,
  });
  const instances = new Map<number, number>();
  for (const si of s.ServiceInstance.values()) {
    const owner = ref(si, 'owner_id');
    instances.set(owner, (instances.get(owner) ?? 0) + 1);
  }
  for (const svc of s.Service.values()) {
    const n = instances.get(svc.id) ?? 0;
    nodes.push(node('Service', svc, `${String(n)} instance${n === 1 ? '' : 's'}`));
  }
  for (const d of s.ServiceDependency.values()) {
    const from = ref(d, 'subscriber_service_id');
    const to = ref(d, 'provider_service_id');
    if (!s.Service.has(from) || !s.Service.has(to)) continue;
    const method = typeof d.connect_method === 'string' ? d.connect_method : '';
    edges.push({
      id: `ServiceDependency-${String(d.id)}`,
      source: `Service-${String(from)}`,
      target: `Service-${String(to)}`,
      label: method && method !== 'none' ? method : '',
      model: 'ServiceDependency',
      objId: d.id,
    });
  }

  // Each instance's trust domain through its slice; each network's through its owner slice,
  // else the first instance attached to it.
  const tdOfSlice = (slice: number) => ref(s.Slice.get(slice), 'trust_domain_id');
  const groupOf = (td: number) =>
    td && s.TrustDomain.has(td) ? `TrustDomain-${String(td)}` : 'group-none';
  const instanceGroup = new Map<number, string>();
  for (const si of s.ServiceInstance.values()) {
    instanceGroup.set(si.id, groupOf(tdOfSlice(ref(si, 'slice_id'))));
  }
  const networkGroup = new Map<number, string>();
  for (const n of s.Network.values()) {
    const td = tdOfSlice(ref(n, 'owner_id'));
    if (td && s.TrustDomain.has(td)) networkGroup.set(n.id, groupOf(td));
  }
  const ports = [...s.Port.values()].sort((a, b) => a.id - b.id);
  for (const p of ports) {
    const net = ref(p, 'network_id');
    const si = ref(p, 'service_instance_id');
    if (!networkGroup.has(net) && instanceGroup.has(si))
      networkGroup.set(net, instanceGroup.get(si)!);
  }
  const used = new Set([...instanceGroup.values(), ...networkGroup.values()]);
  for (const n of s.Network.values()) if (!networkGroup.has(n.id)) used.add('group-none');
  for (const td of s.TrustDomain.values()) {
    const id = `TrustDomain-${String(td.id)}`;
    nodes.push({ ...node('TrustDomain', td, 'trust domain'), group: true });
    used.delete(id);
  }
  if (used.has('group-none')) {
    nodes.push({
      id: 'group-none',
      model: '',
      leaf: '',
      objId: 0,
      name: 'no trust domain',
      subtitle: '',
      group: true,
    });
  }
  for (const si of s.ServiceInstance.values()) {
    const owner = s.Service.get(ref(si, 'owner_id'));
    nodes.push(
      node(
        'ServiceInstance',
        si,
        owner ? `of ${nameOf(owner, 'Service')}` : leafOf(si, 'ServiceInstance'),
        instanceGroup.get(si.id),
      ),
    );
  }
  for (const n of s.Network.values()) {
    const subnet = typeof n.subnet === 'string' ? n.subnet : '';
    nodes.push(node('Network', n, subnet, networkGroup.get(n.id) ?? 'group-none'));
  }
  for (const p of ports) {
    const net = ref(p, 'network_id');
    const si = ref(p, 'service_instance_id');
    if (!s.Network.has(net) || !s.ServiceInstance.has(si)) continue;
    edges.push({
      id: `Port-${String(p.id)}`,
      source: `ServiceInstance-${String(si)}`,
      target: `Network-${String(net)}`,
      label: typeof p.interface_name === 'string' ? p.interface_name : '',
      model: 'Port',
      objId: p.id,
    });
  }
  return { nodes, edges };
}

/** A key that changes only when nodes, groups or edges come or go (not on status changes). */
export function structureKey(st: Structure): string {
  return [
    st.nodes.map((n) => `${n.id}@${n.parent ?? ''}`).join(','),
    st.edges.map((e) => `${e.id}:${e.source}>${e.target}`).join(','),
  ].join('|');
}

export interface Placed {
  /** Top-left corner; relative to the parent group for a group's members. */
  x: number;
  y: number;
  width: number;
  height: number;
}

function dagreLayout(
  ids: string[],
  edges: { source: string; target: string; id: string }[],
  rankdir: 'LR' | 'TB',
): { pos: Map<string, { x: number; y: number }>; width: number; height: number } {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir, nodesep: 24, ranksep: 90, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) g.setNode(id, { width: NODE_W, height: NODE_H });
  const inside = new Set(ids);
  for (const e of edges) {
    if (inside.has(e.source) && inside.has(e.target)) g.setEdge(e.source, e.target, {}, e.id);
  }
  dagre.layout(g);
  const pos = new Map<string, { x: number; y: number }>();
  let width = 0;
  let height = 0;
  for (const id of ids) {
    const n = g.node(id) as { x: number; y: number };
    const x = n.x - NODE_W / 2;
    const y = n.y - NODE_H / 2;
    pos.set(id, { x, y });
    width = Math.max(width, x + NODE_W);
    height = Math.max(height, y + NODE_H);
  }
  return { pos, width, height };
}

/** Positions: the services' graph on top, the groups below it in rows. */
export function layout(st: Structure): Map<string, Placed> {
  const out = new Map<string, Placed>();
  const services = st.nodes.filter((n) => n.model === 'Service');
  const top = dagreLayout(
    services.map((n) => n.id),
    st.edges,
    'LR',
  );
  for (const [id, p] of top.pos) out.set(id, { ...p, width: NODE_W, height: NODE_H });
  let x = 0;
  let y = services.length ? top.height + GAP : 0;
  let rowHeight = 0;
  for (const group of st.nodes.filter((n) => n.group)) {
    const members = st.nodes.filter((n) => n.parent === group.id);
    const inner = dagreLayout(
      members.map((n) => n.id),
      st.edges,
      'LR',
    );
    const width = Math.max(inner.width, NODE_W) + 2 * GROUP_PAD;
    const height = (members.length ? inner.height : 20) + 2 * GROUP_PAD + GROUP_TITLE;
    if (x > 0 && x + width > WRAP_WIDTH) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    out.set(group.id, { x, y, width, height });
    for (const [id, p] of inner.pos) {
      out.set(id, {
        x: p.x + GROUP_PAD,
        y: p.y + GROUP_PAD + GROUP_TITLE,
        width: NODE_W,
        height: NODE_H,
      });
    }
    x += width + GAP;
    rowHeight = Math.max(rowHeight, height);
  }
  return out;
}
