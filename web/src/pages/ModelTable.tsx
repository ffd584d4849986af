// A model's table: server-side paging, sorting and filtering (kept in the URL), a status badge
// per object, and live updates from the watch.
import { memo, useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { ApiError, errorText } from '../api';
import { StatusBadge } from '../components/Badge';
import { FieldValue } from '../components/Value';
import { useLoad } from '../hooks';
import {
  applyChanges,
  listParams,
  PAGE_SIZES,
  queryOf,
  remember,
  searchOf,
  uncertain,
  type Change,
  type PageData,
  type TableQuery,
} from '../livetable';
import { useWatch } from '../live';
import { refsOf, useNames } from '../names';
import { objectSynced, useRegistry, writable } from '../registry';
import { useSession } from '../session';
import { BADGES } from '../status';
import type { FieldInfo, ModelInfo, Obj } from '../types';

const LONG_TYPES = new Set(['text', 'json', 'password']);

/** The columns after id, name and status: the model's own fields, the settable ones first. */
function columnsOf(model: ModelInfo): FieldInfo[] {
  const own = model.fields.filter((f) => !f.bookkeeping && !LONG_TYPES.has(f.type));
  const ordered = [...own.filter((f) => !f.feedback), ...own.filter((f) => f.feedback)];
  return ordered.slice(0, 7);
}

const fmt = (n: number) => n.toLocaleString('en-US');

function totalText(start: number, count: number, total: number | undefined, more: boolean) {
  if (count === 0) return total === undefined || total === 0 ? 'no objects' : `0 of ${fmt(total)}`;
  const range = `${fmt(start)}–${fmt(start + count - 1)}`;
  if (total !== undefined) return `${range} of ${fmt(total)}`;
  return more ? `${range} of many` : range;
}

/** A text input that commits its value after the user pauses (and on Enter). */
function DraftInput({
  value,
  onCommit,
  delay,
  ...rest
}: {
  value: string;
  onCommit: (v: string) => void;
  delay: number;
  placeholder: string;
  'data-testid': string;
  'aria-label': string;
}) {
  const [draft, setDraft] = useState({ text: value, from: value });
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(
    () => () => {
      clearTimeout(timer.current);
    },
    [],
  );
  const text = draft.from === value ? draft.text : value;
  return (
    <input
      type="search"
      value={text}
      onChange={(e) => {
        const v = e.target.value;
        setDraft({ text: v, from: value });
        clearTimeout(timer.current);
        timer.current = setTimeout(() => {
          onCommit(v.trim());
        }, delay);
      }}
      onKeyDown={(e) => {
        if (e.key !== 'Enter') return;
        clearTimeout(timer.current);
        onCommit(text.trim());
      }}
      {...rest}
    />
  );
}

function SortHeader({
  field,
  label,
  orderBy,
  onSort,
}: {
  field: string;
  label: string;
  orderBy: string;
  onSort: (next: string) => void;
}) {
  const dir = orderBy === field ? 'asc' : orderBy === `-${field}` ? 'desc' : undefined;
  const next = dir === 'asc' ? `-${field}` : dir === 'desc' ? '' : field;
  return (
    <th
      aria-sort={dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none'}
      data-field={field}
    >
      <button
        type="button"
        className="sort"
        onClick={() => {
          onSort(next);
        }}
        title={`sort by ${label}`}
      >
        {label}
        <span className="sort-mark">{dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : ''}</span>
      </button>
    </th>
  );
}

const Row = memo(function Row({
  model,
  obj,
  columns,
  showKind,
  synced,
}: {
  model: string;
  obj: Obj;
  columns: FieldInfo[];
  showKind: boolean;
  synced: boolean;
}) {
  const href = `/models/${model}/${String(obj.id)}`;
  return (
    <tr data-testid={`row-${model}-${String(obj.id)}`}>
      <td className="num">
        <Link href={href}>{obj.id}</Link>
      </td>
      <td>
        <Link href={href}>
          {typeof obj.name === 'string' && obj.name ? obj.name : `#${String(obj.id)}`}
        </Link>
      </td>
      <td>
        <StatusBadge model={model} obj={obj} synced={synced} />
      </td>
      {showKind && <td>{typeof obj.leaf_model === 'string' ? obj.leaf_model : ''}</td>}
      {columns.map((f) => (
        <td key={f.name}>
          <FieldValue field={f} value={obj[f.name]} short />
        </td>
      ))}
      <td className="num">{typeof obj.version === 'number' ? obj.version : ''}</td>
    </tr>
  );
});

export function ModelTable({ model }: { model: ModelInfo }) {
  const { api, user } = useSession();
  const registry = useRegistry();
  const [params, setParams] = useSearchParams();
  const query = queryOf(params);
  const queryKey = `${model.name}${searchOf(query)}`;
  const [paging, setPaging] = useState({ key: '', tokens: [''] });
  const tokens = paging.key === queryKey ? paging.tokens : [''];
  const token = tokens[tokens.length - 1] ?? '';
  const pageKey = `${queryKey}|${token}`;

  const page = useLoad<PageData>(pageKey, async () => {
    const startedAt = Date.now();
    const r = await api.list(model.name, listParams(query, token));
    return {
      items: r.items,
      offset: (tokens.length - 1) * query.pageSize,
      total: r.total_size,
      next: r.next_page_token,
      startedAt,
    };
  });

  // Changes seen since the page was read, applied over it as it is shown.
  const [live, setLive] = useState<{ key: string; changes: Map<number, Change> }>({
    key: '',
    changes: new Map(),
  });
  const changes = live.key === pageKey ? live.changes : new Map<number, Change>();
  const shown = page.data
    ? applyChanges(page.data, changes, {
        query,
        synced: (o) => objectSynced(registry, model.name, o),
        firstPage: page.data.offset === 0,
      })
    : undefined;

  const refresh = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(
    () => () => {
      clearTimeout(refresh.current);
    },
    [],
  );

  useWatch(
    [model.name],
    (e) => {
      const since = page.data?.startedAt ?? 0;
      const onPage = shown?.items.some((o) => o.id === e.id) ?? false;
      setLive((old) => ({
        key: pageKey,
        changes: remember(
          old.key === pageKey ? old.changes : new Map(),
          e,
          registry.byName.get(e.model) ?? model,
          Date.now(),
          since,
        ),
      }));
      // An object off the page may have entered or left the filter: read the page again soon.
      if (uncertain(e, onPage, query)) {
        clearTimeout(refresh.current);
        refresh.current = setTimeout(page.reload, 2000);
      }
    },
    page.reload,
  );

  const columns = columnsOf(model);
  const showKind = model.family.length > 1;
  useNames(refsOf(columns, shown?.items ?? []));

  const set = (patch: Partial<TableQuery>) => {
    const next = { ...query, ...patch };
    setParams(new URLSearchParams(searchOf(next)), { replace: true });
  };

  const start = (page.data?.offset ?? 0) + 1;
  const count = shown?.items.length ?? 0;
  const canWrite = writable(user.role, model.name) && !model.abstract;

  return (
    <section className="page">
      <header className="page-header">
        <h1>{model.name}</h1>
        {canWrite && (
          <Link href={`/models/${model.name}/new`} className="button primary" data-testid="create">
            New {model.name}
          </Link>
        )}
      </header>
      <div className="toolbar">
        <DraftInput
          value={query.name}
          onCommit={(name) => {
            set({ name });
          }}
          delay={300}
          placeholder="name contains…"
          aria-label="name contains"
          data-testid="filter"
        />
        <select
          value={query.status}
          onChange={(e) => {
            set({ status: e.target.value });
          }}
          data-testid="status-filter"
          aria-label="status"
        >
          <option value="">any status</option>
          {BADGES.map((b) => (
            <option key={b} value={b}>
              {b}
            </option>
          ))}
        </select>
        <DraftInput
          value={query.where}
          onCommit={(where) => {
            set({ where });
          }}
          delay={800}
          placeholder="field=value …"
          aria-label="field filters"
          data-testid="where-filter"
        />
        <span className="spacer" />
        <label className="inline">
          per page{' '}
          <select
            value={query.pageSize}
            onChange={(e) => {
              set({ pageSize: Number(e.target.value) });
            }}
            data-testid="page-size"
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span className="total" data-testid="total">
          {shown ? totalText(start, count, shown.total, Boolean(page.data?.next)) : '…'}
        </span>
        <button
          type="button"
          data-testid="prev-page"
          disabled={tokens.length < 2}
          onClick={() => {
            setPaging({ key: queryKey, tokens: tokens.slice(0, -1) });
          }}
        >
          ‹ Prev
        </button>
        <button
          type="button"
          data-testid="next-page"
          disabled={!page.data?.next || page.loading}
          onClick={() => {
            if (page.data?.next) setPaging({ key: queryKey, tokens: [...tokens, page.data.next] });
          }}
        >
          Next ›
        </button>
      </div>
      {page.error !== undefined && <ListError err={page.error} model={model.name} />}
      <div className={`table-wrap${page.loading ? ' loading' : ''}`}>
        <table className="objects">
          <thead>
            <tr>
              <SortHeader
                field="id"
                label="id"
                orderBy={query.orderBy}
                onSort={(o) => {
                  set({ orderBy: o });
                }}
              />
              <SortHeader
                field="name"
                label="name"
                orderBy={query.orderBy}
                onSort={(o) => {
                  set({ orderBy: o });
                }}
              />
              <th>status</th>
              {showKind && (
                <SortHeader
                  field="leaf_model"
                  label="kind"
                  orderBy={query.orderBy}
                  onSort={(o) => {
                    set({ orderBy: o });
                  }}
                />
              )}
              {columns.map((f) => (
                <SortHeader
                  key={f.name}
                  field={f.name}
                  label={f.type === 'reference' ? f.field : f.name}
                  orderBy={query.orderBy}
                  onSort={(o) => {
                    set({ orderBy: o });
                  }}
                />
              ))}
              <SortHeader
                field="version"
                label="version"
                orderBy={query.orderBy}
                onSort={(o) => {
                  set({ orderBy: o });
                }}
              />
            </tr>
          </thead>
          <tbody>
            {shown?.items.map((o) => (
              <Row
                key={o.id}
                model={model.name}
                obj={o}
                columns={columns}
                showKind={showKind}
                synced={objectSynced(registry, model.name, o)}
              />
            ))}
          </tbody>
        </table>
        {shown && count === 0 && <p className="empty-table">No {model.name} objects match.</p>}
      </div>
    </section>
  );
}

function ListError({ err, model }: { err: unknown; model: string }) {
  const text =
    err instanceof ApiError && err.status === 403
      ? `Your role may not read ${model} objects.`
      : `Could not read ${model} objects: ${errorText(err)}`;
  return (
    <p className="error-banner" role="alert">
      {text}
    </p>
  );
}
