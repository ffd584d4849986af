// Property-based tests of bad Create and Update requests for every model of the registry,
// against the real model API (issue 13): a refusal has a clean status code (INVALID_ARGUMENT,
// NOT_FOUND or FAILED_PRECONDITION, never INTERNAL or UNKNOWN), names the field or the model,
// is no stack trace or SQL, and leaves the database as it was. Typed bad values go through gRPC
// (as a client sends them); wrongly typed values go to the same handlers in process, as the
// HTTP/JSON gateway hands them a JSON body's values.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import { USER_BOOKKEEPING, type FieldDef, type ResolvedModel } from '../../models/registry.js';
import { columnOf } from '../../models/schema.js';
import {
  CLEAN_CODES,
  InputCounter,
  PASSWORD,
  expectClean,
  RUNS,
  fcParams,
  noNul,
  refusal,
  snapshot,
  startAsAdmin,
  type Obj,
  type Rig,
} from './support.js';

const counter = new InputCounter('api create/update');
counter.report();

/** A field of a model as the API names it (references as `<field>_id`). */
interface ApiField {
  model: ResolvedModel;
  field: string;
  key: string;
  def: FieldDef;
}

const fieldsOf = (m: ResolvedModel): ApiField[] =>
  Object.entries(m.allFields).map(([field, def]) => ({
    model: m,
    field,
    key: columnOf(field, def),
    def,
    // How fast-check shows it in a counterexample.
    [fc.toStringMethod]: () => `${m.name}.${columnOf(field, def)}`,
  }));

/** Addresses that no parser should take. */
const BAD_IPS = ['300.1.1.1', '1.2.3', '1.2.3.4.5', '::g', '10.0.0.1/24', 'localhost', '0x7f.1'];
const BAD_CIDRS = ['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0', 'abc/24', '300.0.0.0/8', '::/129'];
const BAD_MACS = ['00:11:22:33:44', 'zz:11:22:33:44:55', '00:11:22:33:44:55:66', '0011.2233'];
/** Text with a letter beyond hex: not an IP, CIDR or MAC. */
const notAnAddress = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `q${noNul(s)}`);

/** A value of the field's proto type that the model layer must refuse, or undefined if none. */
function typedBadValue(f: ApiField): fc.Arbitrary<unknown> | undefined {
  const d = f.def;
  switch (d.type) {
    case 'string': {
      const options: fc.Arbitrary<unknown>[] = [
        fc
          .integer({ min: (d.maxLength ?? 256) + 1, max: (d.maxLength ?? 256) + 300 })
          .map((n) => 'x'.repeat(n)),
      ];
      if (d.choices) {
        options.push(
          fc
            .string({ minLength: 1, maxLength: 12 })
            .filter((s) => !d.choices!.includes(s) && !s.includes('\u0000')),
        );
      }
      return fc.oneof(...options);
    }
    case 'ip':
      return fc.oneof(fc.constantFrom(...BAD_IPS), notAnAddress);
    case 'cidr':
      return fc.oneof(fc.constantFrom(...BAD_CIDRS), notAnAddress);
    case 'mac':
      return fc.oneof(fc.constantFrom(...BAD_MACS), notAnAddress);
    case 'password':
      return fc.string({ minLength: 1, maxLength: 7 }).filter((s) => !s.includes('\u0000'));
    case 'reference':
      // Negative ids, and ids far beyond any row.
      return fc.oneof(
        fc.integer({ min: -2147483648, max: -1 }),
        fc.integer({ min: 10_000_000, max: 2147483647 }),
      );
    case 'integer': {
      const out: fc.Arbitrary<unknown>[] = [];
      if (d.min !== undefined && d.min > -2147483648)
        out.push(fc.integer({ min: -2147483648, max: d.min - 1 }));
      if (d.max !== undefined && d.max < 2147483647)
        out.push(fc.integer({ min: d.max + 1, max: 2147483647 }));
      return out.length ? fc.oneof(...out) : undefined;
    }
    case 'float': {
      const out: fc.Arbitrary<unknown>[] = [];
      if (d.min !== undefined)
        out.push(fc.double({ max: d.min, maxExcluded: true, noNaN: true, min: -1e300 }));
      if (d.max !== undefined)
        out.push(fc.double({ min: d.max, minExcluded: true, noNaN: true, max: 1e300 }));
      return out.length ? fc.oneof(...out) : undefined;
    }
    default:
      return undefined;
  }
}

/** A JSON value of the wrong type for the field (only the in-process path can carry it). */
function untypedBadValue(f: ApiField): fc.Arbitrary<unknown> | undefined {
  const nested = fc.oneof(
    fc.constant({}),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { minKeys: 1, maxKeys: 3 }),
    fc.array(fc.integer(), { maxLength: 3 }),
  );
  switch (f.def.type) {
    case 'string':
    case 'text':
    case 'password':
    case 'ip':
    case 'cidr':
    case 'mac':
      return fc.oneof(nested, fc.integer(), fc.boolean(), fc.double({ noNaN: false }));
    case 'integer':
    case 'reference':
      return fc.oneof(
        nested,
        fc.boolean(),
        fc.constantFrom('NaN', 'Infinity', '12abc', '1e3', ' 1', '0x1f', '', '--1', '1.5'),
        fc.constantFrom(2147483648, -2147483649, 1e15, 1.5, Number.MAX_SAFE_INTEGER),
      );
    case 'float':
      return fc.oneof(nested, fc.boolean(), fc.constantFrom('NaN', 'abc', '1,5', '--1'));
    case 'boolean':
      return fc.oneof(nested, fc.integer(), fc.constantFrom('yes', 'no', 'TRUE', '1', ''));
    default:
      return undefined;
  }
}

/** A value of the right type for the field, drawn at random (it may or may not be accepted). */
function randomValue(f: ApiField): fc.Arbitrary<unknown> {
  const d = f.def;
  const text = fc.string({ maxLength: 40 }).map(noNul);
  switch (d.type) {
    case 'string':
      return d.choices ? fc.oneof(fc.constantFrom(...d.choices), text) : text;
    case 'text':
    case 'password':
      return text;
    case 'integer':
    case 'reference':
      return fc.integer({ min: -5, max: 70_000 });
    case 'float':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'ip':
      return fc.oneof(fc.ipV4(), fc.ipV6(), text);
    case 'cidr':
      return fc.oneof(
        fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${String(n)}`),
        text,
      );
    case 'mac':
      return fc.oneof(
        fc
          .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
          .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':')),
        text,
      );
    case 'json':
      return fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    case 'timestamp':
      return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true });
  }
}

/** A value in the proto's form for the gRPC client (Value for JSON, Timestamp for times). */
function toProto(f: ApiField, v: unknown): unknown {
  if (f.def.type === 'json') return toProtoValue(v);
  if (f.def.type === 'timestamp' && v instanceof Date) {
    return { seconds: Math.floor(v.getTime() / 1000), nanos: 0 };
  }
  return v;
}

function toProtoValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toProtoValue) } };
  return {
    structValue: {
      fields: Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, toProtoValue(x)])),
    },
  };
}

describe('fuzz: bad Create and Update requests of every model', function () {
  this.timeout(240_000);
  let rig: Rig;
  let models: ResolvedModel[];
  /** An existing object of each model that could be made (the Update targets). */
  const existing = new Map<string, number>();
  /** Valid ids of each model (and of each ancestor), for references. */
  const ids = new Map<string, number[]>();
  /** The required values of a valid create of each model. */
  const baseline = new Map<string, Obj>();

  const requiredValues = (m: ResolvedModel, n: number): Obj | undefined => {
    const out: Obj = { name: `fx-${m.name.toLowerCase()}-${String(n)}` };
    // Two references to one model get two objects (a service cannot depend on itself).
    const used = new Map<string, number>();
    for (const f of fieldsOf(m)) {
      if (!f.def.required || f.def.default !== undefined) continue;
      const d = f.def;
      let v: unknown;
      switch (d.type) {
        case 'reference': {
          const target = d.reference!.model;
          const k = used.get(target) ?? 0;
          used.set(target, k + 1);
          v = ids.get(target)?.[k];
          if (v === undefined) return undefined;
          break;
        }
        case 'string':
          v = d.choices ? d.choices[0] : `v${String(n)}`;
          break;
        case 'text':
          v = 'v';
          break;
        case 'integer':
          v = (d.min ?? 1) + n;
          break;
        case 'float':
          v = d.min ?? 1;
          break;
        case 'boolean':
          v = true;
          break;
        case 'cidr':
          v = `10.${String(n % 250)}.0.0/24`;
          break;
        case 'password':
          v = PASSWORD;
          break;
        case 'json':
          v = {};
          break;
        case 'timestamp':
          v = new Date(Date.now() + 86_400_000).toISOString();
          break;
        default:
          return undefined;
      }
      out[f.key] = v;
    }
    return out;
  };

  before(async function () {
    this.timeout(10 * 60_000);
    rig = await startAsAdmin();
    models = rig.db.registry.models();
    // One object of each model that can be made from its required fields, in registry order
    // (a model comes after those it refers to), for updates and for references.
    // Two of each, so that two references to one model can name two objects.
    for (let round = 0; round < 4; round++) {
      for (const [i, m] of models.entries()) {
        if ((ids.get(m.name)?.length ?? 0) >= 2) continue;
        const values = requiredValues(m, i + 100 * round);
        if (!values) continue;
        try {
          const made = await rig.db.service.create(m.name, values);
          if (!existing.has(m.name)) {
            existing.set(m.name, made.id);
            baseline.set(m.name, values);
          }
          for (let a: ResolvedModel | undefined = m; a;) {
            ids.set(a.name, [...(ids.get(a.name) ?? []), made.id]);
            a = a.extends ? rig.db.registry.get(a.extends) : undefined;
          }
        } catch {
          // Made in the next round, once what it refers to exists; or not at all (reported).
        }
      }
    }
    const missing = models.filter((m) => !existing.has(m.name)).map((m) => m.name);
    if (missing.length) {
      process.stderr.write(`[fuzz] api: no update target for ${missing.join(', ')}\n`);
    }
  });
  after(async () => {
    rig.client.close();
    await rig.api.close();
    await rig.db.drop();
  });

  /** Runs a write that must be refused: clean, naming one of `names`, writing nothing. */
  const mustRefuse = async (call: () => Promise<Obj>, names: string[]): Promise<void> => {
    counter.add();
    const before = await snapshot(rig.db);
    const err = await refusal(call());
    expectClean(err, names);
    expect(await snapshot(rig.db)).to.deep.equal(before);
  };

  /** A model and one of its fields with a bad value of the field's proto type. */
  const typedCase = () =>
    fc
      .constantFrom(...rig.db.registry.models().filter((m) => baseline.has(m.name)))
      .chain((m) => {
        const candidates = fieldsOf(m).filter((f) => typedBadValue(f) && !f.def.feedback);
        return candidates.length
          ? fc.constantFrom(...candidates).chain((f) => fc.tuple(fc.constant(f), typedBadValue(f)!))
          : fc.constant(undefined);
      })
      .filter((x): x is [ApiField, unknown] => x !== undefined);

  it('refuses bad values of the right proto type on Create, naming the field (gRPC)', async () => {
    await fc.assert(
      fc.asyncProperty(typedCase(), async ([f, bad]) => {
        const m = f.model;
        const req = {
          ...(baseline.get(m.name) ?? { name: 'fuzz-x' }),
          [f.key]: bad,
          name: `fz-${String(counter.count)}`,
        };
        await mustRefuse(() => rig.client.call(`Create${m.name}`)(req), [f.key, f.field]);
      }),
      fcParams(),
    );
  });

  it('refuses bad values of the right proto type on Update, naming the field (gRPC)', async () => {
    await fc.assert(
      fc.asyncProperty(
        typedCase().filter(([f]) => existing.has(f.model.name) && !f.def.immutable),
        fc.boolean(),
        async ([f, bad], masked) => {
          const m = f.model;
          const req = {
            object: { id: existing.get(m.name), [f.key]: bad },
            ...(masked ? { update_mask: { paths: [f.key] } } : {}),
          };
          await mustRefuse(() => rig.client.call(`Update${m.name}`)(req), [f.key, f.field]);
        },
      ),
      fcParams(),
    );
  });

  it('refuses wrongly typed values (a JSON body through the same handlers), naming the field', async () => {
    const cases = fc
      .constantFrom(...rig.db.registry.models())
      .chain((m) => {
        const candidates = fieldsOf(m).filter((f) => untypedBadValue(f) && !f.def.feedback);
        return fc.tuple(
          fc.constantFrom(...candidates),
          fc.constantFrom<'create' | 'update'>('create', 'update'),
        );
      })
      .chain(([f, op]) => fc.tuple(fc.constant(f), fc.constant(op), untypedBadValue(f)!));
    await fc.assert(
      fc.asyncProperty(cases, async ([f, op, bad]) => {
        const m = f.model;
        const names = [f.key, f.field];
        if (op === 'create' || !existing.has(m.name)) {
          const req = {
            ...(baseline.get(m.name) ?? {}),
            name: `fz-${String(counter.count)}`,
            [f.key]: bad,
          };
          await mustRefuse(() => rig.direct(`Create${m.name}`, req), names);
        } else {
          const req = { object: { id: existing.get(m.name), [f.key]: bad } };
          await mustRefuse(() => rig.direct(`Update${m.name}`, req), names);
        }
      }),
      fcParams(),
    );
  });

  it('refuses read-only, feedback and unknown fields, and bad ids, naming them', async () => {
    const kinds = fc.oneof(
      // Read-only bookkeeping, set to something other than its zero value.
      fc.record({
        kind: fc.constant('bookkeeping' as const),
        name: fc.constantFrom(
          'backend_code',
          'synced_version',
          'failures',
          'policy_code',
          'version',
        ),
        value: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({
        kind: fc.constant('bookkeeping' as const),
        name: fc.constantFrom('backend_status', 'policy_status', 'leaf_model'),
        value: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes('\u0000')),
      }),
      // A field mask naming what is no field.
      fc.record({
        kind: fc.constant('mask' as const),
        name: fc
          .oneof(
            fc.constantFrom('__proto__', 'constructor', 'id.x', 'name ', 'NAME', 'owner.id', '*'),
            fc.stringMatching(/^[a-z_]{1,12}$/),
          )
          .filter((s) => s !== 'id'),
        value: fc.constant(null),
      }),
      // Ids of objects that are not there.
      fc.record({
        kind: fc.constant('id' as const),
        name: fc.constant('id'),
        value: fc.oneof(
          fc.integer({ min: -2147483648, max: -1 }),
          fc.integer({ min: 5_000_000, max: 2147483647 }),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...rig.db.registry.models()), kinds, async (m, k) => {
        const known = new Set(fieldsOf(m).flatMap((f) => [f.key]));
        if (
          k.kind === 'mask' &&
          (known.has(k.name) || [...USER_BOOKKEEPING].includes(k.name as never))
        )
          return;
        const id = existing.get(m.name) ?? 1;
        if (k.kind === 'bookkeeping') {
          await mustRefuse(
            () => rig.client.call(`Update${m.name}`)({ object: { id, [k.name]: k.value } }),
            [k.name],
          );
          await mustRefuse(
            () =>
              rig.client.call(`Create${m.name}`)({
                ...(baseline.get(m.name) ?? {}),
                name: 'fz-ro',
                [k.name]: k.value,
              }),
            [k.name],
          );
        } else if (k.kind === 'mask') {
          await mustRefuse(
            () =>
              rig.client.call(`Update${m.name}`)({
                object: { id },
                update_mask: { paths: [k.name] },
              }),
            [k.name],
          );
        } else {
          await mustRefuse(
            () => rig.client.call(`Update${m.name}`)({ object: { id: k.value, name: 'fz-gone' } }),
            [m.name, 'object.id', 'id'],
          );
          await mustRefuse(
            () => rig.client.call(`Delete${m.name}`)({ id: k.value }),
            [m.name, 'id'],
          );
        }
      }),
      fcParams(),
    );
  });

  it('feedback fields are refused on every model that has them', async () => {
    const withFeedback = rig.db.registry
      .models()
      .flatMap((m) => fieldsOf(m).filter((f) => f.def.feedback));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...withFeedback), fc.boolean(), async (f, create) => {
        const m = f.model;
        const v =
          f.def.type === 'boolean'
            ? true
            : f.def.type === 'timestamp'
              ? { seconds: 1000, nanos: 0 }
              : f.def.type === 'ip'
                ? '10.0.0.9'
                : f.def.type === 'mac'
                  ? '02:00:00:00:00:01'
                  : 'fb';
        if (create || !existing.has(m.name)) {
          await mustRefuse(
            () =>
              rig.client.call(`Create${m.name}`)({
                ...(baseline.get(m.name) ?? {}),
                name: 'fz-fb',
                [f.key]: v,
              }),
            [f.key],
          );
        } else {
          await mustRefuse(
            () =>
              rig.client.call(`Update${m.name}`)({
                object: { id: existing.get(m.name), [f.key]: v },
              }),
            [f.key],
          );
        }
      }),
      fcParams(),
    );
  });

  it('valid-but-random creates succeed or fail cleanly, never INTERNAL (and a refusal writes nothing)', async () => {
    const cases = fc.constantFrom(...rig.db.registry.models()).chain((m) => {
      const fields = fieldsOf(m).filter((f) => !f.def.feedback && !f.def.secret);
      return fc.tuple(
        fc.constant(m),
        fc
          .subarray(fields, { maxLength: Math.min(5, fields.length) })
          .chain((chosen) =>
            fc.tuple(...chosen.map((f) => fc.tuple(fc.constant(f), randomValue(f)))),
          ),
        fc.boolean(),
      );
    });
    await fc.assert(
      fc.asyncProperty(cases, async ([m, values, withBaseline]) => {
        counter.add();
        const req: Obj = withBaseline ? { ...(baseline.get(m.name) ?? {}) } : {};
        req.name = `fz-r-${String(counter.count)}`;
        for (const [f, v] of values) req[f.key] = toProto(f, v);
        const before = await snapshot(rig.db);
        const outcome = await rig.client
          .call(`Create${m.name}`)(req)
          .then(
            (made) => ({ made }),
            (e: unknown) => ({ err: e as grpc.ServiceError }),
          );
        if ('err' in outcome) {
          expectClean(outcome.err, [], [...CLEAN_CODES, grpc.status.ALREADY_EXISTS]);
          expect(await snapshot(rig.db)).to.deep.equal(before);
        } else {
          expect(outcome.made.id).to.be.a('number');
        }
      }),
      fcParams(),
    );
  });

  it('strings with NUL bytes and other odd characters are refused cleanly or stored exactly', async () => {
    // Every field the API carries as a string (JSON fields carry them inside google.protobuf.Value).
    const stringy = rig.db.registry
      .models()
      .filter((m) => baseline.has(m.name))
      .flatMap((m) =>
        fieldsOf(m).filter(
          (f) =>
            !f.def.feedback &&
            !f.def.secret &&
            !f.def.choices &&
            !f.def.pattern &&
            !f.def.immutable &&
            ['string', 'text', 'json'].includes(f.def.type),
        ),
      );
    const odd = fc
      .tuple(
        fc.string({ maxLength: 8 }),
        fc.constantFrom('\u0000', '\u0001', '\u007f', '🙂', '\u202e', '\ufeff', '\\u0000'),
        fc.string({ maxLength: 8 }),
      )
      .map(([a, b, c]) => `${a}${b}${c}`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...stringy), odd, async (f, text) => {
        counter.add();
        const m = f.model;
        const value = f.def.type === 'json' ? { note: text } : text;
        const before = await snapshot(rig.db);
        const outcome = await rig.client
          .call(`Update${m.name}`)({
            object: { id: existing.get(m.name), [f.key]: toProto(f, value) },
          })
          .then(
            (made) => ({ made }),
            (e: unknown) => ({ err: e as grpc.ServiceError }),
          );
        if ('err' in outcome) {
          expectClean(outcome.err, [f.key, f.field]);
          expect(await snapshot(rig.db)).to.deep.equal(before);
        } else {
          const stored = await rig.db.service.get(m.name, existing.get(m.name)!);
          expect(stored[f.key]).to.deep.equal(value);
        }
      }),
      {
        ...fcParams(RUNS),
        examples: [[stringy.find((f) => f.def.type === 'string')!, 'a\u0000b']],
      },
    );
  });

  it('a timestamp out of any calendar is refused cleanly (ApiToken.expires_at)', async () => {
    const f = fieldsOf(rig.db.registry.get('ApiToken')).find((x) => x.key === 'expires_at')!;
    const seconds = fc.oneof(
      fc.integer({ min: 8_640_000_000_001, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -8_640_000_000_001 }),
    );
    await fc.assert(
      fc.asyncProperty(seconds, fc.boolean(), async (s, create) => {
        const ts = { seconds: s, nanos: 0 };
        if (create) {
          await mustRefuse(
            () =>
              rig.client.call('CreateApiToken')({
                ...baseline.get('ApiToken'),
                name: 'fz-ts',
                token_hash: 'fz-ts',
                expires_at: ts,
              }),
            [f.key],
          );
        } else {
          await mustRefuse(
            () =>
              rig.client.call('UpdateApiToken')({
                object: { id: existing.get('ApiToken'), expires_at: ts },
              }),
            [f.key],
          );
        }
      }),
      { ...fcParams(RUNS), examples: [[8_640_000_000_001, true]] },
    );
  });
});
