// One input per field type: text, number, checkbox, JSON textarea, select for choices, and a
// picker (searchable by name when there are many) for references. Each carries
// name="<field as in objects>".
import { useState } from 'react';
import { errorText } from '../api';
import type { FormValue } from '../form';
import { useDebounced, useLoad } from '../hooks';
import { useNames } from '../names';
import { useApi } from '../session';
import type { FieldInfo } from '../types';

const PICKER_PAGE = 100;

export function RefPicker({
  field,
  model,
  value,
  onChange,
}: {
  field: FieldInfo;
  model: string;
  value: string;
  onChange: (v: string) => void;
}) {
  const api = useApi();
  const [search, setSearch] = useState('');
  const term = useDebounced(search.trim(), 250);
  const options = useLoad(`${model}|${term}`, () => {
    const q = new URLSearchParams({ page_size: String(PICKER_PAGE), order_by: 'name' });
    if (term) q.set('name__contains', term);
    return api.list(model, q);
  });
  const current = value ? Number(value) : 0;
  const names = useNames(current ? { [model]: [current] } : {});
  const items = options.data?.items ?? [];
  const many =
    search !== '' ||
    Boolean(options.data?.next_page_token) ||
    (options.data?.total_size ?? 0) > PICKER_PAGE;
  if (options.error !== undefined && !options.data) {
    // Not readable (or an older gateway): the id, typed.
    return (
      <span className="picker">
        <input
          type="number"
          name={field.name}
          id={`f-${field.name}`}
          value={value}
          min={1}
          onChange={(e) => {
            onChange(e.target.value);
          }}
        />
        <span className="hint">
          a {model} id ({errorText(options.error)})
        </span>
      </span>
    );
  }
  const listed = items.some((o) => o.id === current);
  return (
    <span className="picker">
      {many && (
        <input
          type="search"
          className="picker-search"
          placeholder={`search ${model} by name…`}
          value={search}
          data-testid={`search-${field.name}`}
          aria-label={`search ${model} by name`}
          onChange={(e) => {
            setSearch(e.target.value);
          }}
        />
      )}
      <select
        name={field.name}
        id={`f-${field.name}`}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      >
        <option value="">— none —</option>
        {current > 0 && !listed && (
          <option value={String(current)}>
            {names?.get(model, current) ?? model} (#{current})
          </option>
        )}
        {items.map((o) => (
          <option key={o.id} value={String(o.id)}>
            {typeof o.name === 'string' && o.name ? o.name : `${model} #${String(o.id)}`} (#{o.id})
          </option>
        ))}
      </select>
      {many && options.data && (
        <span className="hint">
          {items.length === 0
            ? 'no match'
            : `${String(items.length)}${options.data.next_page_token ? '+' : ''} shown`}
        </span>
      )}
    </span>
  );
}

export function FieldInput({
  field,
  value,
  onChange,
  onBlur,
}: {
  field: FieldInfo;
  value: FormValue;
  onChange: (v: FormValue) => void;
  onBlur?: () => void;
}) {
  const id = `f-${field.name}`;
  const text = typeof value === 'string' ? value : '';
  const common = {
    id,
    name: field.name,
    'aria-required': field.required,
    onBlur,
  };
  if (field.type === 'boolean') {
    return (
      <input
        type="checkbox"
        {...common}
        checked={value === true}
        onChange={(e) => {
          onChange(e.target.checked);
        }}
      />
    );
  }
  if (field.type === 'reference' && field.reference) {
    return (
      <RefPicker
        field={field}
        model={field.reference}
        value={text}
        onChange={(v) => {
          onChange(v);
        }}
      />
    );
  }
  if (field.choices?.length) {
    return (
      <select
        {...common}
        value={text}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      >
        <option value="">—</option>
        {field.choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  }
  if (field.type === 'json' || field.type === 'text') {
    return (
      <textarea
        {...common}
        value={text}
        rows={field.type === 'json' ? 6 : 4}
        spellCheck={false}
        className={field.type === 'json' ? 'code' : undefined}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      />
    );
  }
  const type =
    field.type === 'integer' || field.type === 'float'
      ? 'number'
      : field.type === 'password'
        ? 'password'
        : 'text';
  return (
    <input
      type={type}
      {...common}
      value={text}
      step={field.type === 'float' ? 'any' : field.type === 'integer' ? 1 : undefined}
      maxLength={field.max_length}
      placeholder={field.type === 'timestamp' ? 'YYYY-MM-DDTHH:MM:SSZ' : undefined}
      autoComplete={field.type === 'password' ? 'new-password' : 'off'}
      onChange={(e) => {
        onChange(e.target.value);
      }}
    />
  );
}
