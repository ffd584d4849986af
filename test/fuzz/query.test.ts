// Property-based tests of List calls with bad filters, orderings and page tokens, through the
// real gRPC API (issue 13): random field names, operators and values (SQL, wildcards, escapes,
// unicode) and random, garbled, truncated, forged or foreign page tokens get a clear
// INVALID_ARGUMENT or correct results, never INTERNAL; a name full of SQL metacharacters is
// matched exactly (the values are parameters), and the tables are still there afterwards.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import { fieldViolations } from '../../api/server.js';
import type { ResolvedModel } from '../../models/registry.js';
import { columnOf } from '../../models/schema.js';
import {
  InputCounter,
  RUNS,
  expectClean,
  fcParams,
  nastyString,
  noNul,
  snapshot,
  startAsAdmin,
  tablesExist,
  type Obj,
  type Rig,
} from './support.js';

const counter = new InputCounter('query filters/page tokens');
counter.report();

const OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'contains', 'isnull', 'notnull'];
const BOOKKEEPING = ['id', 'name', 'version', 'created_at', 'backend_code', 'leaf_model'];

/** A google.protobuf.Value of a plain value. */
function pv(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(pv) } };
  return {
    structValue: {
      fields: Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, pv(x)])),
    },
  };
}

const withoutNul = (s: string) => noNul(s);

/** Filter values: scalars, lists, objects, SQL-looking text (no NUL: its own property). */
const filterValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString.map(withoutNul),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(nastyString.map(withoutNul), fc.integer()), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** Whether a refused List names the filter, ordering, page part or field it was refused for. */
function expectListRefusal(err: grpc.ServiceError, names: string[]): void {
  expectClean(err, names, [grpc.status.INVALID_ARGUMENT]);
}

describe('fuzz: List filters, orderings and page tokens', function () {
  this.timeout(240_000);
  let rig: Rig;
  let models: ResolvedModel[];
  /** Names of the Sites made, by id: the SQL-looking ones among them. */
  const sites = new Map<number, string>();

  before(async function () {
    this.timeout(10 * 60_000);
    rig = await startAsAdmin();
    models = rig.db.registry.models();
    for (let i = 0; i < 25; i++) {
      const s = await rig.db.service.create('Site', {
        name: `site-${String(i).padStart(2, '0')}`,
        login_base: i % 3 ? `lb${String(i)}` : null,
        latitude: i / 3,
      });
      sites.set(s.id, String(s.name));
    }
    for (let i = 0; i < 12; i++) {
      await rig.db.service.create('Network', {
        name: `net-${String(i)}`,
        subnet: `10.${String(i)}.0.0/24`,
      });
    }
  });
  after(async () => {
    rig.client.close();
    await rig.api.close();
    await rig.db.drop();
  });

  const list = (model: string, req: Obj) => rig.client.call(`List${model}`)(req);
  const outcome = (p: Promise<Obj>) =>
    p.then(
      (res) => ({ res }),
      (e: unknown) => ({ err: e as grpc.ServiceError }),
    );

  // Names of Object.prototype's properties have their own property below (a known crash).
  const fieldName = (m: ResolvedModel): fc.Arbitrary<string> =>
    fc
      .oneof(
        fc.constantFrom(
          ...Object.entries(m.allFields).flatMap(([f, d]) => [f, columnOf(f, d)]),
          ...BOOKKEEPING,
        ),
        nastyString.map(withoutNul),
        fc.stringMatching(/^[a-z_]{1,10}$/),
      )
      .filter((name) => !(name in Object.prototype));

  it('random filters and orderings: correct results or INVALID_ARGUMENT naming the part, never INTERNAL', async () => {
    const cases = fc.constantFrom(...models).chain((m) =>
      fc.tuple(
        fc.constant(m.name),
        fc.array(
          fc.record({
            field: fieldName(m),
            op: fc
              .oneof(fc.constantFrom(...OPS), nastyString.map(withoutNul))
              .filter((op) => !(op in Object.prototype)),
            value: filterValue,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.array(fc.record({ field: fieldName(m), desc: fc.boolean() }), { maxLength: 2 }),
        fc.option(fc.integer({ min: -10, max: 6000 }), { nil: undefined }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ([model, filters, orderBy, pageSize]) => {
        counter.add();
        const req: Obj = {
          filter: filters.map((f) => ({ field: f.field, op: f.op, value: pv(f.value) })),
          order_by: orderBy,
          ...(pageSize !== undefined ? { page_size: pageSize } : {}),
        };
        const r = await outcome(list(model, req));
        if ('err' in r) {
          const violations = fieldViolations(r.err).map((v) => v.field);
          expectListRefusal(r.err, ['filter[', 'order_by[', 'page_size', 'status']);
          expect(violations.length, r.err.details).to.be.greaterThan(0);
        } else {
          // An equality filter on name holds for every item returned.
          for (const f of filters) {
            if (f.field === 'name' && f.op === 'eq' && typeof f.value === 'string') {
              for (const item of r.res.items as Obj[]) expect(item.name).to.equal(f.value);
            }
          }
        }
      }),
      fcParams(),
    );
    expect(await tablesExist(rig.db)).to.deep.equal([]);
  });

  it('a name full of SQL metacharacters is found exactly by eq and contains, and nothing is dropped', async () => {
    const names = nastyString
      .map(withoutNul)
      .filter((s) => s.trim() !== '' && s.length <= 256 && !s.includes('\uD800'));
    await fc.assert(
      fc.asyncProperty(names, async (name) => {
        counter.add();
        const taken = [...sites.values()].includes(name);
        let id: number;
        if (taken) id = [...sites.entries()].find(([, n]) => n === name)![0];
        else {
          const made = await rig.client.call('CreateSite')({ name });
          id = made.id as number;
          sites.set(id, made.name as string);
        }
        const stored = sites.get(id)!;
        const eq = await list('Site', {
          filter: [{ field: 'name', op: 'eq', value: pv(stored) }],
        });
        expect((eq.items as Obj[]).map((i) => i.id)).to.deep.equal([id]);
        const contains = await list('Site', {
          filter: [{ field: 'name', op: 'contains', value: pv(stored) }],
          page_size: 5000,
        });
        const found = (contains.items as Obj[]).map((i) => i.name as string);
        expect(found).to.include(stored);
        // ILIKE is case-insensitive; every match contains the text, wildcards taken literally.
        for (const n of found) expect(n.toLowerCase()).to.include(stored.toLowerCase());
      }),
      { ...fcParams(RUNS), examples: [["'; DROP TABLE site; --"], ['%'], ['_'], ['\\']] },
    );
    expect(await tablesExist(rig.db)).to.deep.equal([]);
  });

  it('random, garbled, truncated, foreign and forged page tokens: INVALID_ARGUMENT naming page_token, or a page', async () => {
    const first = await list('Site', { page_size: 3, order_by: [{ field: 'name' }] });
    const real = first.next_page_token as string;
    expect(real).to.not.equal('');
    const decoded = JSON.parse(Buffer.from(real, 'base64url').toString('utf8')) as {
      k: string;
      v: unknown[];
    };
    const foreign = (await list('Network', { page_size: 2 })).next_page_token as string;
    const scalar = fc.oneof(
      nastyString.map(withoutNul),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(2147483648, -2147483649, 1e300, 1.5, -0.5),
    );
    const token = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.base64String({ maxLength: 80 }),
      fc
        .jsonValue({ maxDepth: 2 })
        .map((j) => Buffer.from(JSON.stringify(j)).toString('base64url')),
      fc.integer({ min: 1, max: real.length - 1 }).map((n) => real.slice(0, n)),
      fc
        .integer({ min: 0, max: real.length - 1 })
        .map((n) => `${real.slice(0, n)}A${real.slice(n + 1)}`),
      fc.constant(foreign),
      // Forged: the listing's own key with other values in it.
      fc
        .array(scalar, { minLength: decoded.v.length, maxLength: decoded.v.length })
        .map((v) => Buffer.from(JSON.stringify({ k: decoded.k, v })).toString('base64url')),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        counter.add();
        const r = await outcome(
          list('Site', { page_size: 3, order_by: [{ field: 'name' }], page_token: t }),
        );
        if ('err' in r) expectListRefusal(r.err, ['page_token']);
        else {
          // A page, maybe empty (a forged position past every row: gRPC leaves an empty list out).
          expect(r.res.items ?? []).to.be.an('array');
          expect(r.res.total_size ?? 0).to.be.a('number');
        }
      }),
      {
        ...fcParams(RUNS),
        examples: [
          [
            Buffer.from(JSON.stringify({ k: decoded.k, v: ['site-02', 1.5] })).toString(
              'base64url',
            ),
          ],
          [
            Buffer.from(JSON.stringify({ k: decoded.k, v: ['site-02', 2147483648] })).toString(
              'base64url',
            ),
          ],
        ],
      },
    );
  });

  it('page tokens with forged values in typed columns are refused cleanly (order by version)', async () => {
    const firstLat = await list('Site', { page_size: 2, order_by: [{ field: 'version' }] });
    const key = (
      JSON.parse(Buffer.from(firstLat.next_page_token as string, 'base64url').toString('utf8')) as {
        k: string;
      }
    ).k;
    const value = fc.oneof(
      fc.constantFrom('abc', '', '1e3', 'NaN', '1; DROP TABLE site; --'),
      fc.constantFrom(1.5, 2147483648, -1e300),
    );
    await fc.assert(
      fc.asyncProperty(value, fc.integer({ min: 1, max: 1000 }), async (v, id) => {
        counter.add();
        const t = Buffer.from(JSON.stringify({ k: key, v: [v, id] })).toString('base64url');
        const r = await outcome(
          list('Site', { page_size: 2, order_by: [{ field: 'version' }], page_token: t }),
        );
        if ('err' in r) expectListRefusal(r.err, ['page_token']);
      }),
      { ...fcParams(RUNS), examples: [['abc', 3]] },
    );
    expect(await tablesExist(rig.db)).to.deep.equal([]);
  });

  it('filter values with NUL bytes are refused cleanly (or match nothing)', async () => {
    const before = await snapshot(rig.db);
    const text = fc
      .tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }))
      .map(([a, b]) => `${a}\u0000${b}`);
    await fc.assert(
      fc.asyncProperty(text, fc.constantFrom('eq', 'contains', 'in', 'ne'), async (t, op) => {
        counter.add();
        const value = op === 'in' ? pv([t]) : pv(t);
        const r = await outcome(list('Site', { filter: [{ field: 'name', op, value }] }));
        if ('err' in r) expectListRefusal(r.err, ['filter[0]']);
        else if (op !== 'ne') expect(r.res.items).to.deep.equal([]);
      }),
      { ...fcParams(RUNS), examples: [['a\u0000b', 'eq']] },
    );
    expect(await snapshot(rig.db)).to.deep.equal(before);
  });

  it("field and operator names that are Object.prototype's (constructor, __proto__, toString) are refused cleanly", async () => {
    const names = fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...models.map((m) => m.name)),
        names,
        fc.constantFrom('filter', 'order_by', 'op'),
        fc.constantFrom('eq', 'le', 'in', 'contains', 'isnull'),
        async (model, name, where, op) => {
          counter.add();
          const req: Obj =
            where === 'filter'
              ? { filter: [{ field: name, op, value: pv(op === 'in' ? ['x'] : 'x') }] }
              : where === 'op'
                ? { filter: [{ field: 'name', op: name, value: pv('x') }] }
                : { order_by: [{ field: name }] };
          const r = await outcome(list(model, req));
          expect('err' in r, `List${model} ${JSON.stringify(req)} succeeded`).to.equal(true);
          if ('err' in r) expectListRefusal(r.err, [name]);
        },
      ),
      {
        ...fcParams(RUNS),
        examples: [
          ['Site', 'constructor', 'filter', 'eq'],
          ['Site', 'constructor', 'order_by', 'eq'],
          ['Site', '__proto__', 'op', 'eq'],
        ],
      },
    );
    expect(await tablesExist(rig.db)).to.deep.equal([]);
  });
});
