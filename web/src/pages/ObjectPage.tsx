// An object's page: its fields, its status with the reason, its status history, the backend
// objects it owns and the objects that refer to it; edit and delete for the roles that may.
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { handleText, POLICY_MEANING } from '../adopt';
import { ApiError, errorText, readLeaf } from '../api';
import { Pill, StatusBadge } from '../components/Badge';
import { Panel } from '../components/Panel';
import { FieldValue } from '../components/Value';
import { useLoad } from '../hooks';
import { normalize } from '../livetable';
import { useWatch } from '../live';
import { refsOf, useNames } from '../names';
import { isSynced, useRegistry, writable } from '../registry';
import { useSession } from '../session';
import { statusOf, timeOf } from '../status';
import type { BackendObject, Dependent, FieldInfo, HistoryEntry, ModelInfo, Obj } from '../types';

function FieldList({ fields, obj }: { fields: FieldInfo[]; obj: Obj }) {
  useNames(refsOf(fields, [obj]));
  return (
    <dl className="fields">
      {fields.map((f) => (
        <div key={f.name} className="field" data-field={f.name}>
          <dt title={f.help}>{f.type === 'reference' ? f.field : f.name}</dt>
          <dd>
            <FieldValue field={f} value={obj[f.name]} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function History({ entries, synced }: { entries: HistoryEntry[]; synced: boolean }) {
  if (!entries.length) return <p className="muted">No status changes recorded.</p>;
  return (
    <ol className="history">
      {entries.map((e, i) => {
        // The status as it was then ("retrying" if the next try was still ahead).
        const s = statusOf(e, synced, Date.parse(e.at));
        return (
          <li key={`${e.at}-${String(i)}`} data-testid="history-entry" data-status={s.badge}>
            <time dateTime={e.at}>{new Date(e.at).toLocaleString([], { hour12: false })}</time>
            <Pill badge={s.badge} label={s.label} title={s.reason} />
            <span className="history-version">
              v{e.version}
              {e.synced_version !== e.version ? ` (backend v${String(e.synced_version)})` : ''}
            </span>
            <span className="reason">{e.backend_status}</span>
            {e.failures > 0 && (
              <span className="muted">
                {' '}
                {e.failures} failure{e.failures > 1 ? 's' : ''}
                {e.next_attempt_at ? `, next try ${timeOf(e.next_attempt_at)}` : ''}
              </span>
            )}
          </li>
        );
      })}
    </ol>
  );
}

function BackendObjects({ objects }: { objects: BackendObject[] }) {
  if (!objects.length) return <p className="muted">It owns no backend objects (yet).</p>;
  return (
    <table className="compact">
      <thead>
        <tr>
          <th>backend</th>
          <th>kind</th>
          <th>name</th>
          <th>cluster</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {objects.map((o) => (
          <tr
            key={`${o.backend}/${o.kind}/${o.namespace ?? ''}/${o.name}`}
            data-testid="backend-object"
          >
            <td>{o.backend}</td>
            <td>{o.kind}</td>
            <td>{o.namespace ? `${o.namespace}/${o.name}` : o.name}</td>
            <td>{o.cluster}</td>
            <td>{o.detail}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Dependents({ dependents }: { dependents: Dependent[] }) {
  if (!dependents.length) return <p className="muted">Nothing refers to it.</p>;
  return (
    <ul className="dependents">
      {dependents.map((d) => (
        <li key={`${d.model}/${String(d.id)}/${d.field}`} data-testid="dependent">
          <Link href={`/models/${d.model}/${String(d.id)}`}>
            {d.model} {d.name || `#${String(d.id)}`}
          </Link>{' '}
          <span className="muted">by its {d.field}</span>
        </li>
      ))}
    </ul>
  );
}

/** Its management and deletion policies, and, for an adopted object, what it was made from. */
function Policies({ obj }: { obj: Obj }) {
  const policy = (name: string, fallback: string) => {
    const value = obj[name];
    const v = typeof value === 'string' && value ? value : fallback;
    return (
      <span
        className="policy"
        data-testid={name}
        data-value={v}
        title={(POLICY_MEANING as Record<string, string | undefined>)[v]}
      >
        {name.replace('_', ' ')}: <strong>{v}</strong>
      </span>
    );
  };
  const from = handleText(obj.backend_handle);
  return (
    <>
      <p className="policies">
        {policy('management_policy', 'full')}
        {policy('deletion_policy', 'delete')}
      </p>
      {from && (
        <p className="adopted-from" data-testid="adopted-from">
          Adopted from: {from}
        </p>
      )}
    </>
  );
}

export function ObjectPage({ model, id }: { model: ModelInfo; id: number }) {
  const { api, user } = useSession();
  const registry = useRegistry();
  const [, navigate] = useLocation();
  const key = `${model.name}/${String(id)}`;
  const loaded = useLoad(key, () => readLeaf(api, registry.byName, model, id));
  const history = useLoad(key, () => api.history(model.name, id));
  const backend = useLoad(key, () => api.backend(model.name, id));
  const dependents = useLoad(key, () => api.dependents(model.name, id));
  const [gone, setGone] = useState('');
  const [deleteError, setDeleteError] = useState('');
  const later = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(
    () => () => {
      clearTimeout(later.current);
    },
    [],
  );

  useWatch(
    [model.name],
    (e) => {
      if (e.id !== id) return;
      if (e.op === 'reap' || !e.object) {
        setGone(key);
        return;
      }
      const obj = e.object;
      loaded.mutate((old) => ({
        ...old,
        obj: normalize(obj, registry.byName.get(e.model)?.fields ?? old.leaf.fields),
      }));
      // The history and the backend objects follow the status: read them again once it settles.
      clearTimeout(later.current);
      later.current = setTimeout(() => {
        history.reload();
        backend.reload();
      }, 500);
    },
    loaded.reload,
  );

  if (loaded.error !== undefined) {
    const missing = loaded.error instanceof ApiError && loaded.error.notFound;
    return (
      <section className="page">
        <h1>
          {model.name} #{id}
        </h1>
        <p className="error-banner">
          {missing
            ? `There is no ${model.name} ${String(id)} (or you may not see it).`
            : errorText(loaded.error)}
        </p>
        <Link href={`/models/${model.name}`}>All {model.name} objects</Link>
      </section>
    );
  }
  if (!loaded.data) return <p className="muted">Loading…</p>;
  const { obj, leaf } = loaded.data;
  const synced = isSynced(registry, leaf.name);
  const canWrite = writable(user.role, model.name) && gone !== key;
  const name = typeof obj.name === 'string' && obj.name ? obj.name : `#${String(obj.id)}`;

  const remove = async () => {
    if (!window.confirm(`Delete ${leaf.name} ${name}? Its backend objects are removed too.`))
      return;
    setDeleteError('');
    try {
      await api.remove(model.name, id, Number(obj.version));
      navigate(`/models/${model.name}`);
    } catch (err) {
      if (err instanceof ApiError && err.stale) {
        setDeleteError('It was changed since this page read it: look again, then delete.');
        loaded.reload();
      } else setDeleteError(errorText(err));
    }
  };

  const own = leaf.fields.filter((f) => !f.bookkeeping && !f.feedback);
  const feedback = leaf.fields.filter((f) => !f.bookkeeping && f.feedback);
  const bookkeeping = leaf.fields.filter((f) => f.bookkeeping);
  return (
    <section className="page">
      <header className="page-header">
        <div>
          <div className="crumbs">
            <Link href={`/models/${model.name}`}>{model.name}</Link>
            {leaf.name !== model.name && (
              <>
                {' · a '}
                <Link href={`/models/${leaf.name}/${String(id)}`}>{leaf.name}</Link>
              </>
            )}
          </div>
          <h1>{name}</h1>
        </div>
        <div className="actions">
          {canWrite && !obj.deleted_at && (
            <>
              <Link
                href={`/models/${model.name}/${String(id)}/edit`}
                className="button"
                data-testid="edit"
              >
                Edit
              </Link>
              <button
                type="button"
                className="danger"
                data-testid="delete"
                onClick={() => void remove()}
              >
                Delete
              </button>
            </>
          )}
        </div>
      </header>
      {gone === key && (
        <p className="error-banner">It has been deleted and its backends removed.</p>
      )}
      {deleteError && (
        <p className="error-banner" role="alert" data-testid="delete-error">
          {deleteError}
        </p>
      )}
      <section className="panel status-panel">
        <h2>Status</h2>
        <StatusBadge model={model.name} obj={obj} synced={synced} withReason />
        {typeof obj.policy_status === 'string' && obj.policy_status && (
          <p className="muted">policy: {obj.policy_status}</p>
        )}
        <Policies obj={obj} />
      </section>
      <div className="columns">
        <section className="panel" data-testid="fields">
          <h2>Fields</h2>
          <FieldList fields={own} obj={obj} />
          {feedback.length > 0 && (
            <>
              <h3>Reported by the backend</h3>
              <FieldList fields={feedback} obj={obj} />
            </>
          )}
          <h3>Bookkeeping</h3>
          <FieldList fields={bookkeeping} obj={obj} />
        </section>
        <div className="side">
          <Panel title="Status history" testId="history" loaded={history}>
            {(entries) => <History entries={entries} synced={synced} />}
          </Panel>
          <Panel title="Backend objects" testId="backend-objects" loaded={backend}>
            {(objects) => <BackendObjects objects={objects} />}
          </Panel>
          <Panel title="Dependents" testId="dependents" loaded={dependents}>
            {(deps) => <Dependents dependents={deps} />}
          </Panel>
        </div>
      </div>
    </section>
  );
}
