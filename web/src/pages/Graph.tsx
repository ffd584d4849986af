// The service graph (React Flow, laid out by dagre; see ../graph.ts): a node's colour is its
// status, a click opens its object page, and the watch keeps it current.
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  type ReactFlowInstance,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEffect, useMemo, useState } from 'react';
import { useLocation } from 'wouter';
import { listAll, errorText } from '../api';
import {
  applyEvent,
  GRAPH_MODELS,
  layout,
  structureKey,
  structureOf,
  type GraphStore,
  type NodeSpec,
  type Placed,
  type Structure,
} from '../graph';
import { useClock, useLoad } from '../hooks';
import { useWatch } from '../live';
import { isSynced, useRegistry, type Registry } from '../registry';
import { useSession } from '../session';
import { statusOf, type Badge } from '../status';
import type { Obj } from '../types';

type ObjData = {
  spec: NodeSpec;
  badge: Badge;
  label: string;
  reason: string;
};
type ObjNode = Node<ObjData, 'object'>;
type GroupNode = Node<ObjData, 'domain'>;

/** The node's element answers to its graph model and, when it differs, to its own model too. */
function TestIds({
  spec,
  badge,
  children,
}: {
  spec: NodeSpec;
  badge: Badge;
  children: React.ReactNode;
}) {
  const id = String(spec.objId);
  const inner =
    spec.leaf && spec.leaf !== spec.model ? (
      <div data-testid={`graph-node-${spec.leaf}-${id}`} data-status={badge} className="node-leaf">
        {children}
      </div>
    ) : (
      children
    );
  return spec.model ? (
    <div data-testid={`graph-node-${spec.model}-${id}`} data-status={badge} className="node-outer">
      {inner}
    </div>
  ) : (
    <div>{inner}</div>
  );
}

function ObjectNode({ data }: NodeProps<ObjNode>) {
  const { spec, badge, label, reason } = data;
  return (
    <div
      className={`gnode gnode-${badge}`}
      title={`${spec.leaf} ${spec.name}: ${label}${reason ? `: ${reason}` : ''}`}
    >
      <Handle type="target" position={Position.Left} />
      <TestIds spec={spec} badge={badge}>
        <div className="gnode-kind">
          {spec.model === 'Service' ? spec.leaf : spec.model === 'Network' ? 'Network' : spec.leaf}
        </div>
        <div className="gnode-name">{spec.name}</div>
        <div className="gnode-sub">
          <span className={`dot dot-${badge}`} /> {label}
          {spec.subtitle ? ` · ${spec.subtitle}` : ''}
        </div>
      </TestIds>
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

function DomainNode({ data }: NodeProps<GroupNode>) {
  const { spec, badge, label, reason } = data;
  return (
    <div
      className={`gdomain gdomain-${badge}`}
      title={spec.model ? `${label}${reason ? `: ${reason}` : ''}` : ''}
    >
      <TestIds spec={spec} badge={badge}>
        <div className="gdomain-title">
          {spec.model ? <span className={`dot dot-${badge}`} /> : null}{' '}
          {spec.model ? 'TrustDomain ' : ''}
          {spec.name}
        </div>
      </TestIds>
    </div>
  );
}

const NODE_TYPES = { object: ObjectNode, domain: DomainNode };

const EDGE_COLOURS: Record<Badge, string> = {
  ok: '#2f9e44',
  pending: '#5c7cfa',
  error: '#e03131',
  retrying: '#f08c00',
  deleting: '#9c36b5',
  'no-sync': '#868e96',
};

async function loadStore(api: ReturnType<typeof useSession>['api'], registry: Registry) {
  const lists = await Promise.all(
    GRAPH_MODELS.map(async (m) => {
      if (!registry.byName.has(m)) return { items: [] as Obj[], truncated: false };
      return listAll(api, m).catch(() => ({ items: [] as Obj[], truncated: false }));
    }),
  );
  const store = Object.fromEntries(
    GRAPH_MODELS.map((m, i) => [m, new Map(lists[i]!.items.map((o) => [o.id, o]))]),
  ) as GraphStore;
  // An instance's slice is a field of its own model (VSGServiceInstance, ...): read those too.
  const kinds = (registry.byName.get('ServiceInstance')?.family ?? []).filter(
    (m) =>
      m !== 'ServiceInstance' && registry.byName.get(m)?.fields.some((f) => f.name === 'slice_id'),
  );
  const leaves = await Promise.all(
    kinds.map((k) => listAll(api, k).catch(() => ({ items: [] as Obj[] }))),
  );
  for (const { items } of leaves) {
    for (const o of items)
      store.ServiceInstance.set(o.id, { ...store.ServiceInstance.get(o.id), ...o });
  }
  return { store, truncated: lists.some((l) => l.truncated) };
}

function statusFor(store: GraphStore, registry: Registry, spec: NodeSpec, now: number) {
  const graphModel = spec.model as keyof GraphStore;
  const obj = spec.model ? store[graphModel].get(spec.objId) : undefined;
  if (!obj) return { badge: 'no-sync' as Badge, label: '', reason: '' };
  return statusOf(obj, isSynced(registry, spec.leaf || spec.model), now);
}

export function Graph() {
  const { api } = useSession();
  const registry = useRegistry();
  const [, navigate] = useLocation();
  const now = useClock();
  const loaded = useLoad('graph', () => loadStore(api, registry));

  useWatch(
    GRAPH_MODELS.filter((m) => registry.byName.has(m)),
    (e) => {
      loaded.mutate((old) => ({ ...old, store: applyEvent(old.store, registry, e) }));
    },
    loaded.reload,
  );

  const store = loaded.data?.store;
  const structure: Structure | undefined = useMemo(
    () => (store ? structureOf(store) : undefined),
    [store],
  );
  const key = structure ? structureKey(structure) : '';
  // Laid out again only when nodes or edges come or go, not when a status changes.
  const positions = useMemo(
    () => (structure ? layout(structure) : new Map<string, Placed>()),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  // Fitted again when nodes come or go, so that a new one is in sight.
  const [flow, setFlow] = useState<ReactFlowInstance<ObjNode | GroupNode> | null>(null);
  useEffect(() => {
    if (!flow || !key) return undefined;
    const frame = requestAnimationFrame(() => {
      void flow.fitView({ duration: 200 });
    });
    return () => {
      cancelAnimationFrame(frame);
    };
  }, [flow, key]);

  if (loaded.error !== undefined && !store) {
    return <p className="error-banner">Could not read the graph: {errorText(loaded.error)}</p>;
  }
  if (!store || !structure) return <p className="muted">Loading the graph…</p>;

  const nodes: (ObjNode | GroupNode)[] = [];
  // Groups first: React Flow wants a parent before its children.
  for (const spec of [
    ...structure.nodes.filter((n) => n.group),
    ...structure.nodes.filter((n) => !n.group),
  ]) {
    const p = positions.get(spec.id);
    if (!p) continue;
    const s = statusFor(store, registry, spec, now);
    const data: ObjData = { spec, badge: s.badge, label: s.label, reason: s.reason };
    const base = {
      id: spec.id,
      position: { x: p.x, y: p.y },
      data,
      width: p.width,
      height: p.height,
      draggable: false,
      connectable: false,
      ...(spec.parent && positions.has(spec.parent) ? { parentId: spec.parent } : {}),
    };
    if (spec.group)
      nodes.push({ ...base, type: 'domain', selectable: Boolean(spec.model), zIndex: -1 });
    else nodes.push({ ...base, type: 'object' });
  }
  const edges: Edge[] = structure.edges.map((e) => {
    const obj = e.model === 'Port' ? store.Port.get(e.objId) : store.ServiceDependency.get(e.objId);
    const badge = obj ? statusOf(obj, isSynced(registry, e.model), now).badge : 'no-sync';
    return {
      id: e.id,
      source: e.source,
      target: e.target,
      label: e.label,
      animated: badge === 'pending',
      style: { stroke: EDGE_COLOURS[badge], strokeWidth: e.model === 'Port' ? 1.5 : 2.5 },
      labelStyle: { fontSize: 11 },
      markerEnd: { type: 'arrowclosed' as const, color: EDGE_COLOURS[badge] },
      zIndex: 1,
    } satisfies Edge;
  });

  return (
    <section className="page graph-page">
      <header className="page-header">
        <h1>Service graph</h1>
        <span className="muted">
          {store.Service.size} services · {store.ServiceInstance.size} instances ·{' '}
          {store.Network.size} networks
          {loaded.data?.truncated ? ' · only the first 5,000 of some models are shown' : ''}
        </span>
        <span className="legend">
          {(['ok', 'pending', 'error', 'retrying', 'deleting', 'no-sync'] as const).map((b) => (
            <span key={b} className="legend-item">
              <span className={`dot dot-${b}`} /> {b}
            </span>
          ))}
        </span>
      </header>
      <div className="graph" data-testid="graph">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          fitView
          onInit={setFlow}
          minZoom={0.1}
          nodesDraggable={false}
          nodesConnectable={false}
          onNodeClick={(_e, node) => {
            const spec = node.data.spec;
            if (spec.model) navigate(`/models/${spec.leaf || spec.model}/${String(spec.objId)}`);
          }}
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          <Controls showInteractive={false} />
          <MiniMap pannable zoomable nodeColor={(n) => EDGE_COLOURS[(n.data as ObjData).badge]} />
        </ReactFlow>
      </div>
    </section>
  );
}
