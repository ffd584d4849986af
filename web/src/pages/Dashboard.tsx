// The dashboard: per model, how many objects are in each status (each count links to the table
// filtered by it); the synchronizer's queue depth and reconcile rate, from two reads of the
// stats a few seconds apart; and the objects in error, with why.
import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import { listAll } from '../api';
import { StatusBadge } from '../components/Badge';
import { Panel } from '../components/Panel';
import { useLoad } from '../hooks';
import { familySynced, objectSynced, readable, useRegistry } from '../registry';
import { useSession } from '../session';
import type { Obj, Stats, StatusCounts } from '../types';

const REFRESH_MS = 3000;
const COLUMNS = ['pending', 'ok', 'error', 'retrying', 'deleting'] as const;

interface Sample {
  stats: Stats;
  at: number;
  previous?: { at: number; ok: number; error: number };
}

const fmt = (n: number) => n.toLocaleString('en-US');

function rates(s: Sample): { ok: number; error: number } | undefined {
  const now = s.stats.synchronizer?.reconciles;
  const before = s.previous;
  if (!now || !before) return undefined;
  const dt = (s.at - before.at) / 1000;
  const ok = now.ok - before.ok;
  const error = now.error - before.error;
  // A restart resets the counters: no rate until two reads of the same process.
  if (dt <= 0 || ok < 0 || error < 0) return undefined;
  return { ok: ok / dt, error: error / dt };
}

function Synchronizer({ sample }: { sample: Sample }) {
  const sync = sample.stats.synchronizer;
  const r = rates(sample);
  const rateText = r ? `${(r.ok + r.error).toFixed(1)}/s` : sync ? 'measuring…' : 'not available';
  return (
    <div className="cards">
      <div className="card">
        <div className="card-label">queue depth</div>
        <div className="card-value" data-testid="queue-depth">
          {sync ? fmt(sync.queue_depth) : 'not available'}
        </div>
        <div className="card-note">objects waiting to be reconciled</div>
      </div>
      <div className="card">
        <div className="card-label">reconcile rate</div>
        <div className="card-value" data-testid="reconcile-rate">
          {rateText}
        </div>
        <div className="card-note">
          {r
            ? `ok ${r.ok.toFixed(1)}/s · error ${r.error.toFixed(1)}/s`
            : `over ${String(REFRESH_MS / 1000)} s`}
        </div>
      </div>
      <div className="card">
        <div className="card-label">synchronizer</div>
        <div className="card-value">{sync ? (sync.leader ? 'leader' : 'standby') : '—'}</div>
        <div className="card-note">
          {sync
            ? `up ${formatUptime(sync.uptime_s)}, ${fmt(sync.reconciles.ok + sync.reconciles.error)} reconciles`
            : ''}
        </div>
      </div>
    </div>
  );
}

function formatUptime(s: number): string {
  if (s < 120) return `${String(Math.round(s))} s`;
  if (s < 7200) return `${String(Math.round(s / 60))} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

function CountsTable({
  models,
  synced,
}: {
  models: [string, StatusCounts][];
  synced: (model: string) => boolean;
}) {
  return (
    <table className="stats">
      <thead>
        <tr>
          <th>model</th>
          <th className="num">total</th>
          {COLUMNS.map((c) => (
            <th key={c} className="num">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {models.map(([name, c]) => (
          <tr
            key={name}
            data-testid={`stats-${name}`}
            className={c.total ? undefined : 'empty-row'}
          >
            <td>
              <Link href={`/models/${name}`}>{name}</Link>
            </td>
            <td className="num">{fmt(c.total)}</td>
            {!synced(name) && (
              <td colSpan={COLUMNS.length - 1} className="no-sync-cell">
                no sync: no step reconciles {name}
              </td>
            )}
            {COLUMNS.filter((s) => synced(name) || s === 'deleting').map((s) => (
              <td key={s} className="num" data-status={s}>
                {c[s] ? (
                  <Link href={`/models/${name}?status=${s}`} className={`count count-${s}`}>
                    {fmt(c[s])}
                  </Link>
                ) : (
                  <span className="zero">0</span>
                )}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The objects in error or retrying, a few per model, with their reasons. */
function Troubles({ models }: { models: [string, StatusCounts][] }) {
  const { api } = useSession();
  const registry = useRegistry();
  const wanted = models
    .filter(([, c]) => c.error + c.retrying > 0)
    .slice(0, 8)
    .map(([name, c]) => ({ name, status: c.error ? 'error' : 'retrying' }));
  const key = JSON.stringify(models.map(([n, c]) => [n, c.error, c.retrying]));
  const loaded = useLoad(key, async () => {
    const out: { model: string; items: Obj[] }[] = [];
    for (const w of wanted) {
      const { items } = await listAll(api, w.name, { status: w.status }, 5);
      out.push({ model: w.name, items: items.slice(0, 5) });
    }
    return out;
  });
  return (
    <Panel title="Not converged" testId="troubles" loaded={loaded}>
      {(groups) =>
        groups.length === 0 ? (
          <p className="muted">Nothing in error or retrying.</p>
        ) : (
          <ul className="troubles">
            {groups.flatMap((g) =>
              g.items.map((o) => (
                <li key={`${g.model}/${String(o.id)}`}>
                  <StatusBadge
                    model={g.model}
                    obj={o}
                    synced={objectSynced(registry, g.model, o)}
                  />{' '}
                  <Link href={`/models/${g.model}/${String(o.id)}`}>
                    {g.model} {typeof o.name === 'string' && o.name ? o.name : `#${String(o.id)}`}
                  </Link>
                  <span className="reason">
                    {typeof o.backend_status === 'string' ? o.backend_status : ''}
                  </span>
                </li>
              )),
            )}
          </ul>
        )
      }
    </Panel>
  );
}

export function Dashboard() {
  const { api, user } = useSession();
  const registry = useRegistry();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => {
      setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => {
      clearInterval(t);
    };
  }, []);
  // The previous read, for rates: kept by the reads themselves.
  const last = useRef<Sample>(undefined);
  const stats = useLoad<Sample>(`stats#${String(tick)}`, async () => {
    const s = await api.stats();
    const before = last.current;
    const rec = before?.stats.synchronizer?.reconciles;
    const sample: Sample = {
      stats: s,
      at: Date.now(),
      ...(before && rec ? { previous: { at: before.at, ok: rec.ok, error: rec.error } } : {}),
    };
    last.current = sample;
    return sample;
  });
  const order = registry.models.map((m) => m.name);
  const models = Object.entries(stats.data?.stats.models ?? {})
    .filter(([name]) => readable(user.role, name))
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  return (
    <section className="page">
      <header className="page-header">
        <h1>Dashboard</h1>
        <span className="muted">refreshed every {REFRESH_MS / 1000} s</span>
      </header>
      <Panel title="Synchronizer" testId="synchronizer" loaded={stats}>
        {(s) => <Synchronizer sample={s} />}
      </Panel>
      <Panel title="Objects by status" testId="stats" loaded={stats}>
        {() => <CountsTable models={models} synced={(m) => familySynced(registry, m)} />}
      </Panel>
      {stats.data && <Troubles models={models} />}
    </section>
  );
}
