// The create and edit forms, generated from the registry. Server validation errors show beside
// their fields; an edit of a stale version shows the server's new values next to the user's.
import { useState, type SubmitEvent } from 'react';
import { Link, useLocation } from 'wouter';
import { ApiError, errorText, readLeaf } from '../api';
import { FieldInput } from '../components/FieldInput';
import { FieldValue } from '../components/Value';
import {
  ADVANCED,
  bodyOf,
  changedFields,
  formFields,
  initialValues,
  toFormValue,
  violationField,
  type FormValue,
  type FormValues,
} from '../form';
import { useLoad } from '../hooks';
import { useRegistry, writable } from '../registry';
import { useSession } from '../session';
import type { FieldInfo, ModelInfo, Obj } from '../types';

export function NewObject({ model }: { model: ModelInfo }) {
  const registry = useRegistry();
  const { user } = useSession();
  if (!writable(user.role, model.name)) return <NotAllowed model={model.name} />;
  if (model.abstract) {
    const kinds = model.family.filter((n) => n !== model.name && !registry.byName.get(n)?.abstract);
    return (
      <section className="page">
        <h1>New {model.name}</h1>
        <p>{model.name} is abstract: create one of its kinds.</p>
        <ul>
          {kinds.map((k) => (
            <li key={k}>
              <Link href={`/models/${k}/new`}>{k}</Link>
            </li>
          ))}
        </ul>
      </section>
    );
  }
  return <ObjectForm model={model} />;
}

export function EditObject({ model, id }: { model: ModelInfo; id: number }) {
  const { api, user } = useSession();
  const registry = useRegistry();
  const loaded = useLoad(`${model.name}/${String(id)}`, () =>
    readLeaf(api, registry.byName, model, id),
  );
  if (!writable(user.role, model.name)) return <NotAllowed model={model.name} />;
  if (loaded.error !== undefined)
    return <p className="error-banner">Could not read it: {errorText(loaded.error)}</p>;
  if (!loaded.data) return <p className="muted">Loading…</p>;
  return (
    <ObjectForm
      key={`${loaded.data.leaf.name}/${String(id)}`}
      model={loaded.data.leaf}
      routeModel={model.name}
      obj={loaded.data.obj}
    />
  );
}

function NotAllowed({ model }: { model: string }) {
  return (
    <section className="page">
      <p className="error-banner">Your role may not change {model} objects.</p>
    </section>
  );
}

interface Conflict {
  /** The object as the server has it now. */
  server: Obj;
  /** The fields it changed since the form was opened. */
  fields: FieldInfo[];
}

function ObjectForm({
  model,
  routeModel,
  obj,
}: {
  model: ModelInfo;
  routeModel?: string;
  obj?: Obj;
}) {
  const { api } = useSession();
  const [, navigate] = useLocation();
  const [base, setBase] = useState<Obj | undefined>(obj);
  const [values, setValues] = useState<FormValues>(() => initialValues(model, obj));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState('');
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [saving, setSaving] = useState(false);
  const fields = formFields(model);
  const editing = base !== undefined;
  const back = editing
    ? `/models/${routeModel ?? model.name}/${String(base.id)}`
    : `/models/${model.name}`;

  const change = (name: string, v: FormValue) => {
    setValues((old) => ({ ...old, [name]: v }));
    setErrors((old) =>
      name in old ? Object.fromEntries(Object.entries(old).filter(([k]) => k !== name)) : old,
    );
  };

  const refused = (err: unknown) => {
    if (!(err instanceof ApiError)) {
      setFormError(errorText(err));
      return;
    }
    const byField: Record<string, string> = {};
    const loose: string[] = [];
    for (const v of err.fieldViolations) {
      const name = violationField(model, v.field);
      if (name)
        byField[name] = byField[name] ? `${byField[name]}; ${v.description}` : v.description;
      else loose.push(`${v.field}: ${v.description}`);
    }
    setErrors(byField);
    const summary = Object.keys(byField).length
      ? 'Some fields were refused (see beside them).'
      : '';
    setFormError(loose.length ? loose.join('; ') : summary || err.message);
  };

  const save = async () => {
    setFormError('');
    const { body, errors: local } = bodyOf(model, values, base);
    if (Object.keys(local).length) {
      setErrors(local);
      setFormError('Some values could not be read (see beside them).');
      return;
    }
    if (base && Object.keys(body).length === 0) {
      setFormError('Nothing changed.');
      return;
    }
    setSaving(true);
    try {
      const saved = base
        ? await api.update(model.name, base.id, Number(base.version), body)
        : await api.create(model.name, body);
      navigate(`/models/${routeModel ?? model.name}/${String(saved.id)}`);
    } catch (err) {
      if (base && err instanceof ApiError && err.stale) {
        try {
          const server = await api.get(model.name, base.id);
          setConflict({ server, fields: changedFields(model, base, server) });
          setErrors({});
        } catch (again) {
          setFormError(
            `It changed since you opened it, and could not be read again: ${errorText(again)}`,
          );
        }
      } else refused(err);
    } finally {
      setSaving(false);
    }
  };

  const onSubmit = (e: SubmitEvent) => {
    e.preventDefault();
    void save();
  };

  const takeNew = () => {
    if (!conflict) return;
    setBase(conflict.server);
    setValues(initialValues(model, conflict.server));
    setConflict(null);
    setFormError('');
  };

  const keepMine = () => {
    if (!conflict) return;
    setBase(conflict.server);
    setConflict(null);
    setFormError('');
  };

  const feedback = model.fields.filter((f) => f.feedback && !f.bookkeeping);
  const main = fields.filter((f) => !ADVANCED.has(f.name));
  const advanced = fields.filter((f) => ADVANCED.has(f.name));

  return (
    <section className="page">
      <header className="page-header">
        <h1>
          {editing
            ? `Edit ${model.name} ${typeof base.name === 'string' && base.name ? base.name : `#${String(base.id)}`}`
            : `New ${model.name}`}
        </h1>
        {editing && <span className="muted">version {String(base.version)}</span>}
      </header>
      {conflict && (
        <ConflictBanner
          conflict={conflict}
          model={model}
          values={values}
          onTake={takeNew}
          onKeep={keepMine}
        />
      )}
      <form className="object-form" onSubmit={onSubmit} noValidate>
        {main.map((f) => (
          <FieldRow
            key={f.name}
            field={f}
            value={values[f.name] ?? ''}
            error={errors[f.name]}
            onChange={change}
          />
        ))}
        {advanced.length > 0 && (
          <details className="advanced">
            <summary>Advanced</summary>
            {advanced.map((f) => (
              <FieldRow
                key={f.name}
                field={f}
                value={values[f.name] ?? false}
                error={errors[f.name]}
                onChange={change}
              />
            ))}
          </details>
        )}
        {formError && (
          <p className="form-error" role="alert" data-testid="form-error">
            {formError}
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="save" disabled={saving}>
            {saving ? 'Saving…' : editing ? 'Save' : 'Create'}
          </button>
          <Link href={back} className="button">
            Cancel
          </Link>
        </div>
      </form>
      {editing && feedback.length > 0 && (
        <section className="panel">
          <h2>Reported by the backend (read-only)</h2>
          <dl className="fields">
            {feedback.map((f) => (
              <div key={f.name} className="field">
                <dt>{f.name}</dt>
                <dd>
                  <FieldValue field={f} value={base[f.name]} />
                </dd>
              </div>
            ))}
          </dl>
        </section>
      )}
    </section>
  );
}

function FieldRow({
  field,
  value,
  error,
  onChange,
}: {
  field: FieldInfo;
  value: FormValue;
  error: string | undefined;
  onChange: (name: string, v: FormValue) => void;
}) {
  return (
    <div className={`form-row${error ? ' has-error' : ''}`} data-field={field.name}>
      <label htmlFor={`f-${field.name}`}>
        {field.type === 'reference' && field.reference ? (
          <>
            {field.field} <span className="label-ref">({field.reference})</span>
          </>
        ) : (
          field.name
        )}
        {field.required && (
          <span className="required" title="required">
            {' '}
            *
          </span>
        )}
      </label>
      <div className="form-input">
        <FieldInput
          field={field}
          value={value}
          onChange={(v) => {
            onChange(field.name, v);
          }}
        />
        {field.help && <span className="hint">{field.help}</span>}
        {error && (
          <span className="field-error" data-testid={`error-${field.name}`} role="alert">
            {error}
          </span>
        )}
      </div>
    </div>
  );
}

function shownValue(f: FieldInfo, v: unknown): string {
  const s = toFormValue(f, v);
  if (typeof s === 'boolean') return s ? 'yes' : 'no';
  return s === '' ? '—' : s;
}

function ConflictBanner({
  conflict,
  model,
  values,
  onTake,
  onKeep,
}: {
  conflict: Conflict;
  model: ModelInfo;
  values: FormValues;
  onTake: () => void;
  onKeep: () => void;
}) {
  const rows = conflict.fields.length ? conflict.fields : formFields(model);
  return (
    <div className="conflict" role="alert" data-testid="conflict">
      <p>
        <strong>This {model.name} was changed since you opened it</strong> (it is now at version{' '}
        {String(conflict.server.version)}). Your edits were not saved. The new values:
      </p>
      <table>
        <thead>
          <tr>
            <th>field</th>
            <th>new value (server)</th>
            <th>yours</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((f) => (
            <tr key={f.name} data-field={f.name}>
              <td>{f.name}</td>
              <td className="new-value">{shownValue(f, conflict.server[f.name])}</td>
              <td>
                {typeof values[f.name] === 'boolean'
                  ? values[f.name]
                    ? 'yes'
                    : 'no'
                  : String(values[f.name] ?? '') || '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="form-actions">
        <button type="button" className="primary" data-testid="take-new-values" onClick={onTake}>
          Take the new values
        </button>
        <button type="button" data-testid="keep-mine" onClick={onKeep}>
          Keep mine (save over them)
        </button>
      </div>
    </div>
  );
}
