// Adoption: backend objects Syncord did not make (no owner mark), listed by the backends' adopt
// sources with the model each would become; the chosen ones become models in one transaction
// (POST adopt), after which the synchronizer adds Syncord's owner marks and changes nothing else.
// A refusal adopts nothing and is shown as the API words it (the candidate and the reason).
import { useState, type SubmitEvent } from 'react';
import { Link } from 'wouter';
import {
  adoptableQuery,
  adoptBody,
  becomesName,
  confirmText,
  DELETION_POLICIES,
  MANAGEMENT_POLICIES,
  mayAdopt,
  missingRefs,
  NO_FILTER,
  placeOf,
  POLICY_MEANING,
  refusedKey,
  selectable,
  toggle,
  type AdoptCandidate,
  type AdoptedObject,
  type AdoptFilter,
  type DeletionPolicy,
  type ManagementPolicy,
} from '../adopt';
import { ApiError, errorText } from '../api';
import { useSession } from '../session';
import type { FieldViolation } from '../types';

interface Listing {
  /** The filter the candidates were listed with (POST adopt sends it again). */
  filter: AdoptFilter;
  candidates: AdoptCandidate[];
  failures: string[];
}

interface Refusal {
  code: string;
  message: string;
  violations: FieldViolation[];
  /** The candidate the refusal names, if listed. */
  key: string;
}

type Outcome = { adopted: AdoptedObject[] } | { refusal: Refusal };

const FILTERS: { key: keyof AdoptFilter; label: string; placeholder: string }[] = [
  { key: 'backends', label: 'Backends', placeholder: 'ovn, kubernetes (all when empty)' },
  { key: 'kinds', label: 'Kinds', placeholder: 'Pod, Logical_Switch (all when empty)' },
  { key: 'namespace', label: 'Namespace', placeholder: 'Kubernetes: all when empty' },
  { key: 'selector', label: 'Selector', placeholder: 'Kubernetes labels: app=web' },
  { key: 'instance', label: 'Instance', placeholder: 'OVN, VTN: whose ports (name or id)' },
  { key: 'service', label: 'Service', placeholder: 'Kubernetes: owner (default: the first)' },
];

export function Adopt() {
  const { api, user } = useSession();
  const [filter, setFilter] = useState<AdoptFilter>(NO_FILTER);
  const [listing, setListing] = useState<Listing | null>(null);
  const [listError, setListError] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [management, setManagement] = useState<ManagementPolicy>('full');
  const [deletion, setDeletion] = useState<DeletionPolicy>('delete');
  const [busy, setBusy] = useState<'list' | 'adopt' | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  if (!mayAdopt(user)) {
    return (
      <section className="page adopt-page">
        <header className="page-header">
          <h1>Adopt backend objects</h1>
        </header>
        <p className="panel" data-testid="adopt-not-allowed">
          Adopting turns backend objects that Syncord did not make into models, across trust
          domains: only an admin or an operator of every trust domain may do it. You are logged in
          as {user.name} ({user.role}
          {user.trust_domain_id ? ` of trust domain ${String(user.trust_domain_id)}` : ''}).
        </p>
      </section>
    );
  }

  const list = async (f: AdoptFilter, keepOutcome = false) => {
    setBusy('list');
    setListError('');
    if (!keepOutcome) setOutcome(null);
    try {
      const found = await api.adoptable(adoptableQuery(f));
      setListing({ filter: f, ...found });
      const keys = new Set(found.candidates.filter(selectable).map((c) => c.key));
      setSelected((old) => new Set([...old].filter((k) => keys.has(k))));
    } catch (err) {
      setListing(null);
      setSelected(new Set());
      setListError(
        err instanceof ApiError && err.notFound
          ? 'Not available: this server does not list adoptable objects.'
          : errorText(err),
      );
    } finally {
      setBusy(null);
    }
  };

  const onList = (e: SubmitEvent) => {
    e.preventDefault();
    void list(filter);
  };

  const candidates = listing?.candidates ?? [];
  const chosen = candidates.filter((c) => selected.has(c.key));
  const missing = missingRefs(candidates, selected);
  const allChosen =
    candidates.some(selectable) && candidates.filter(selectable).every((c) => selected.has(c.key));

  const adopt = async () => {
    if (!listing || !chosen.length) return;
    if (!window.confirm(confirmText(chosen.length))) return;
    setBusy('adopt');
    setOutcome(null);
    try {
      const adopted = await api.adopt(
        adoptBody(
          listing.filter,
          chosen.map((c) => c.key),
          management,
          deletion,
        ),
      );
      setOutcome({ adopted });
      setSelected(new Set());
      setBusy(null);
      // What was adopted is no longer a candidate.
      await list(listing.filter, true);
    } catch (err) {
      const refusal: Refusal =
        err instanceof ApiError
          ? {
              code: err.code,
              message: err.message,
              violations: err.fieldViolations,
              key: refusedKey(err.message, candidates),
            }
          : { code: 'UNKNOWN', message: errorText(err), violations: [], key: '' };
      setOutcome({ refusal });
    } finally {
      setBusy(null);
    }
  };

  const refused = outcome && 'refusal' in outcome ? outcome.refusal.key : '';

  return (
    <section className="page adopt-page">
      <header className="page-header">
        <h1>Adopt backend objects</h1>
      </header>
      <p className="muted">
        Backend objects that Syncord did not make (they carry no owner mark), and the model each
        would become. Adopting makes the models; nothing is written to a backend until the
        synchronizer adds its owner marks.
      </p>
      <form className="toolbar adopt-filters" onSubmit={onList}>
        {FILTERS.map((f) => (
          <label key={f.key} className="inline">
            {f.label}{' '}
            <input
              type="text"
              name={f.key}
              data-testid={`adopt-${f.key}`}
              value={filter[f.key]}
              placeholder={f.placeholder}
              onChange={(e) => {
                setFilter({ ...filter, [f.key]: e.target.value });
              }}
            />
          </label>
        ))}
        <button type="submit" className="primary" data-testid="adopt-list" disabled={busy !== null}>
          {busy === 'list' ? 'Listing…' : 'List'}
        </button>
      </form>
      {listError && (
        <p className="error-banner" role="alert" data-testid="adopt-list-error">
          Could not list: {listError}
        </p>
      )}
      {listing?.failures.map((f) => (
        <p key={f} className="warn-banner" data-testid="adopt-failure">
          Could not list {f}
        </p>
      ))}
      {outcome && <OutcomeView outcome={outcome} />}
      {listing && (
        <section className="panel" data-testid="adopt-candidates">
          <h2>
            Candidates <span className="muted">({candidates.length})</span>
          </h2>
          {candidates.length === 0 ? (
            <p className="muted" data-testid="adopt-none">
              Nothing to adopt: every backend object listed carries Syncord&apos;s owner mark (or
              none matches the filter).
            </p>
          ) : (
            <table className="compact adopt-table">
              <thead>
                <tr>
                  <th>
                    <input
                      type="checkbox"
                      aria-label="select every candidate that can be adopted"
                      data-testid="adopt-check-all"
                      checked={allChosen}
                      onChange={(e) => {
                        setSelected(
                          e.target.checked
                            ? new Set(candidates.filter(selectable).map((c) => c.key))
                            : new Set(),
                        );
                      }}
                    />
                  </th>
                  <th>key</th>
                  <th>backend</th>
                  <th>kind</th>
                  <th>name</th>
                  <th>namespace / cluster</th>
                  <th>becomes</th>
                  <th>detail</th>
                  <th>problem</th>
                </tr>
              </thead>
              <tbody>
                {candidates.map((c) => (
                  <CandidateRow
                    key={c.key}
                    c={c}
                    checked={selected.has(c.key)}
                    refused={refused === c.key}
                    onToggle={(on) => {
                      setSelected(toggle(candidates, selected, c.key, on));
                    }}
                  />
                ))}
              </tbody>
            </table>
          )}
          <p className="muted">Ticking a candidate also ticks those it refers to.</p>
        </section>
      )}
      {listing && candidates.some(selectable) && (
        <section className="panel adopt-options">
          <h2>Adopt</h2>
          <div className="form-row">
            <label htmlFor="adopt-management">management policy</label>
            <div className="form-input">
              <select
                id="adopt-management"
                data-testid="adopt-management"
                value={management}
                onChange={(e) => {
                  setManagement(e.target.value as ManagementPolicy);
                }}
              >
                {MANAGEMENT_POLICIES.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
              <span className="hint" data-testid="adopt-management-meaning">
                {POLICY_MEANING[management]}
              </span>
            </div>
          </div>
          <div className="form-row">
            <label htmlFor="adopt-deletion">deletion policy</label>
            <div className="form-input">
              <select
                id="adopt-deletion"
                data-testid="adopt-deletion"
                value={deletion}
                onChange={(e) => {
                  setDeletion(e.target.value as DeletionPolicy);
                }}
              >
                {DELETION_POLICIES.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
              <span className="hint" data-testid="adopt-deletion-meaning">
                {POLICY_MEANING[deletion]}
              </span>
            </div>
          </div>
          {missing.length > 0 && (
            <p className="warn-banner" data-testid="adopt-missing-refs">
              Would be refused unless ticked too: {missing.join('; ')}
            </p>
          )}
          <div className="form-actions">
            <button
              type="button"
              className="primary"
              data-testid="adopt-submit"
              disabled={busy !== null || chosen.length === 0}
              onClick={() => void adopt()}
            >
              {busy === 'adopt'
                ? 'Adopting…'
                : `Adopt selected${chosen.length ? ` (${String(chosen.length)})` : ''}`}
            </button>
          </div>
        </section>
      )}
      {!listing && !listError && (
        <p className="muted">Choose what to look at (or nothing: everything), then List.</p>
      )}
    </section>
  );
}

function CandidateRow({
  c,
  checked,
  refused,
  onToggle,
}: {
  c: AdoptCandidate;
  checked: boolean;
  refused: boolean;
  onToggle: (on: boolean) => void;
}) {
  const refs = Object.entries(c.refs);
  return (
    <tr
      data-testid="adopt-row"
      data-key={c.key}
      className={
        [c.problem ? 'has-problem' : '', refused ? 'refused' : ''].join(' ').trim() || undefined
      }
    >
      <td>
        <input
          type="checkbox"
          name={c.key}
          aria-label={`adopt ${c.key}`}
          data-testid="adopt-check"
          checked={checked}
          disabled={!selectable(c)}
          title={c.problem || undefined}
          onChange={(e) => {
            onToggle(e.target.checked);
          }}
        />
      </td>
      <td>
        <code>{c.key}</code>
        {c.also.map((k) => (
          <div key={k} className="muted" data-testid="adopt-also">
            also <code>{k}</code>
          </div>
        ))}
      </td>
      <td>{c.backend}</td>
      <td>{c.kind}</td>
      <td>{c.name}</td>
      <td>{placeOf(c) || <span className="empty">—</span>}</td>
      <td data-testid="adopt-becomes">
        {c.model} <strong>{becomesName(c)}</strong>
        {refs.map(([column, key]) => (
          <div key={column} className="muted">
            {column} → <code>{key}</code>
          </div>
        ))}
      </td>
      <td>{c.detail}</td>
      <td>
        {c.problem && (
          <span className="problem" data-testid="adopt-problem">
            {c.problem}
          </span>
        )}
      </td>
    </tr>
  );
}

function OutcomeView({ outcome }: { outcome: Outcome }) {
  if ('refusal' in outcome) {
    const r = outcome.refusal;
    return (
      <section className="error-banner adopt-refusal" role="alert" data-testid="adopt-refusal">
        <strong>Refused: nothing was adopted.</strong>
        <div data-testid="adopt-refusal-message">
          {r.message} <span className="muted">({r.code})</span>
        </div>
        {r.violations.length > 0 && (
          <ul>
            {r.violations.map((v) => (
              <li key={`${v.field}: ${v.description}`} data-testid="adopt-violation">
                {v.field}: {v.description}
              </li>
            ))}
          </ul>
        )}
      </section>
    );
  }
  return (
    <section className="ok-banner adopt-result" data-testid="adopt-result">
      <strong>
        Adopted {outcome.adopted.length} object{outcome.adopted.length === 1 ? '' : 's'}
      </strong>
      ; the synchronizer adds Syncord&apos;s owner marks next.
      <ul>
        {outcome.adopted.map((a) => (
          <li key={a.key}>
            <Link href={`/models/${a.model}/${String(a.id)}`} data-testid="adopted-link">
              {a.model} {a.name || `#${String(a.id)}`}
            </Link>{' '}
            <span className="muted">from {a.key}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
