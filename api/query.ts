// A List's query string, as the gateway takes it:
//   field=value              equal (value `null`: is null)
//   field__ne=value          not equal (`null`: is not null)
//   field__lt|le|gt|ge=value compared
//   field__in=a,b,c          one of
//   field__contains=text     contains the text (any case), for text fields
//   field__isnull=true|false
//   status=pending|ok|error|retrying|deleting   the GUI's badge (models/status.ts)
//   order_by=-field,field    page_size=N         page_token=...
// Values are checked by the model layer against the field's type; its complaints about a filter
// (`filter[2].value`) are told back naming the query parameter (`mtu__gt`).
import { badParameter, HttpError, type Violation } from './http.js';
import { toValue } from './server.js';

type Obj = Record<string, unknown>;

const OPS = new Set(['ne', 'lt', 'le', 'gt', 'ge', 'in', 'contains', 'isnull']);
const OP_LIST = 'field, field__ne, __lt, __le, __gt, __ge, __in, __contains, __isnull';

export interface ListQuery {
  /** The ListRequest message. */
  request: Obj;
  /** The query parameter of each filter, by the filter's position. */
  parameters: string[];
}

/**
 * Parses the query of GET /api/v1/{Model}. `isField` says whether a name is a field of the
 * model, so that a field whose name holds `__` is still a field.
 */
export function listQuery(url: URL, isField: (name: string) => boolean): ListQuery {
  const filter: Obj[] = [];
  const orderBy: Obj[] = [];
  const parameters: string[] = [];
  const request: Obj = { filter, order_by: orderBy };
  for (const [k, v] of url.searchParams) {
    if (k === 'page_size') {
      if (!/^\d+$/.test(v) || Number(v) < 1)
        throw badParameter(k, `${v} is not a positive integer`);
      request.page_size = Number(v);
    } else if (k === 'page_token') request.page_token = v;
    else if (k === 'status') request.status = v;
    else if (k === 'order_by') {
      for (const f of v.split(',').filter(Boolean)) {
        orderBy.push(f.startsWith('-') ? { field: f.slice(1), desc: true } : { field: f });
      }
    } else {
      const cut = k.lastIndexOf('__');
      let field = k;
      let op = 'eq';
      if (cut > 0 && !isField(k)) {
        field = k.slice(0, cut);
        op = k.slice(cut + 2);
        if (!OPS.has(op)) {
          throw badParameter(k, `unknown filter operator "${op}": use ${OP_LIST}`);
        }
      }
      let value: unknown = v;
      if (op === 'eq' || op === 'ne') value = v === 'null' ? null : v;
      else if (op === 'in') value = v === '' ? [] : v.split(',');
      else if (op === 'isnull') {
        if (v !== 'true' && v !== 'false') throw badParameter(k, `must be true or false, not ${v}`);
        op = v === 'true' ? 'isnull' : 'notnull';
        value = undefined;
      }
      parameters.push(k);
      filter.push({ field, op, ...(value !== undefined ? { value: toValue(value) } : {}) });
    }
  }
  return { request, parameters };
}

/**
 * A List's refusal with its field violations named as the query names them; the message says
 * which parameter and why.
 */
export function renameViolations(
  violations: Violation[],
  parameters: readonly string[],
): HttpError {
  const renamed = violations.map((v) => {
    const f = /^filter\[(\d+)\]\.(field|op|value)$/.exec(v.field);
    if (f) return { field: parameters[Number(f[1])] ?? v.field, description: v.description };
    if (/^order_by\[\d+\]$/.test(v.field)) return { field: 'order_by', description: v.description };
    return v;
  });
  return new HttpError(
    400,
    'INVALID_ARGUMENT',
    renamed.map((v) => `${v.field}: ${v.description}`).join('; '),
    renamed,
  );
}
