// Form values (what inputs hold) to and from field values (what the gateway takes), by the
// registry's field types.
import { editable } from './registry';
import type { FieldInfo, ModelInfo, Obj } from './types';

export type FormValue = string | boolean;
export type FormValues = Record<string, FormValue>;

/** Bookkeeping a user may set besides name; shown apart ("advanced"). */
export const ADVANCED = new Set([
  'no_sync',
  'write_protect',
  'management_policy',
  'deletion_policy',
]);

/** The fields a form shows as inputs: name first, then the model's, then the advanced ones. */
export function formFields(model: ModelInfo): FieldInfo[] {
  const fields = model.fields.filter(editable);
  const name = fields.filter((f) => f.name === 'name');
  const own = fields.filter((f) => f.name !== 'name' && !ADVANCED.has(f.name));
  const advanced = fields.filter((f) => ADVANCED.has(f.name));
  return [...name, ...own, ...advanced];
}

export function toFormValue(f: FieldInfo, v: unknown): FormValue {
  if (f.type === 'boolean') return v === true;
  if (v === null || v === undefined) return '';
  if (f.type === 'json') return JSON.stringify(v, null, 2);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

export function initialValues(model: ModelInfo, obj?: Obj): FormValues {
  const out: FormValues = {};
  for (const f of formFields(model)) {
    out[f.name] = toFormValue(f, obj ? obj[f.name] : f.default);
  }
  return out;
}

export class FormValueError extends Error {}

/** A form value as the gateway takes it; an empty input is null. */
export function fromFormValue(f: FieldInfo, v: FormValue): unknown {
  if (typeof v === 'boolean') return v;
  const text = f.type === 'text' || f.type === 'json' ? v : v.trim();
  if (text === '') return null;
  switch (f.type) {
    case 'integer':
    case 'reference': {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new FormValueError('must be a whole number');
      return n;
    }
    case 'float': {
      const n = Number(text);
      if (!Number.isFinite(n)) throw new FormValueError('must be a number');
      return n;
    }
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new FormValueError(
          `is not JSON: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    default:
      return text;
  }
}

/** Equal as field values (an empty text is no value). */
const same = (a: unknown, b: unknown) => {
  const plain = (v: unknown) => (v === '' || v === undefined ? null : v);
  return JSON.stringify(plain(a)) === JSON.stringify(plain(b));
};

/**
 * The body of a create (the fields given) or of an edit (the fields changed from `base`), and
 * the values that could not be read, by field.
 */
export function bodyOf(
  model: ModelInfo,
  values: FormValues,
  base?: Obj,
): { body: Record<string, unknown>; errors: Record<string, string> } {
  const body: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of formFields(model)) {
    const v = values[f.name];
    if (v === undefined) continue;
    let value: unknown;
    try {
      value = fromFormValue(f, v);
    } catch (err) {
      errors[f.name] = err instanceof Error ? err.message : String(err);
      continue;
    }
    if (base) {
      if (!same(value, base[f.name])) body[f.name] = value;
    } else if (value !== null) body[f.name] = value;
  }
  return { body, errors };
}

/** The fields whose values differ between two objects (for a stale edit). */
export function changedFields(model: ModelInfo, a: Obj, b: Obj): FieldInfo[] {
  return formFields(model).filter((f) => !same(a[f.name], b[f.name]));
}

/** Where a server's field violation goes: the input it names, else the form. */
export function violationField(model: ModelInfo, field: string): string | undefined {
  const fields = formFields(model);
  const direct = fields.find((f) => f.name === field || f.field === field);
  if (direct) return direct.name;
  const head = field.split(/[.[]/)[0] ?? field;
  return fields.find((f) => f.name === head || f.name === `${head}_id`)?.name;
}
