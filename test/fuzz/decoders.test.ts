// Property-based tests of the backend decoders with garbage (issue 13): what turns an OVSDB
// server's wire JSON into schemas, rows and values (backends/ovn/schema.ts, values.ts, the
// JSON-RPC stream splitter and a monitor's update handling), and the VTN client's decoding of
// answers (backends/vtn/client.ts, over gRPC from a fake VTN that answers random bytes). Each
// must give a value of the promised type or throw a clear error (never a TypeError, never a
// silently half-decoded value), and never hang.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import {
  Monitor,
  SchemaParseError,
  applyDiff,
  decodeRow,
  decodeValue,
  parseSchema,
  uuidPattern,
  type BaseType,
  type ColumnSchema,
  type DatabaseSchema,
  type Json,
  type OvsdbClient,
  type TableSchema,
  type Value,
} from '../../backends/ovn/ovsdb.js';
import { JsonStreamSplitter, type JsonRpcConnection } from '../../backends/ovn/jsonrpc.js';
import { VtnCallError, VtnClient } from '../../backends/vtn/client.js';
import { vtnProto } from '../../backends/vtn/proto.js';
import { InputCounter, RUNS, fcParams } from './support.js';

const counter = new InputCounter('decoders (ovsdb, vtn)');
counter.report();

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
/** The OVN northbound schema of the rig (Debian's ovn-central), or a small one like it. */
const schemaJson: Json = (() => {
  try {
    return JSON.parse(readFileSync(NB_SCHEMA, 'utf8')) as Json;
  } catch {
    return {
      name: 'OVN_Northbound',
      version: '7.0.0',
      tables: {
        Logical_Switch: {
          columns: {
            name: { type: 'string' },
            ports: {
              type: {
                key: { type: 'uuid', refTable: 'Logical_Switch_Port' },
                min: 0,
                max: 'unlimited',
              },
            },
            other_config: {
              type: { key: 'string', value: 'string', min: 0, max: 'unlimited' },
            },
          },
          isRoot: true,
        },
        Logical_Switch_Port: {
          columns: {
            name: { type: 'string' },
            up: { type: { key: 'boolean', min: 0, max: 1 } },
            tag: {
              type: { key: { type: 'integer', minInteger: 1, maxInteger: 4095 }, min: 0, max: 1 },
            },
            addresses: { type: { key: 'string', min: 0, max: 'unlimited' } },
          },
        },
      },
    };
  }
})();
const schema: DatabaseSchema = parseSchema(schemaJson);
const columns: ColumnSchema[] = [...schema.tables.values()].flatMap((t) =>
  [...t.columns.values()].map((c) =>
    Object.assign(c, { [fc.toStringMethod]: () => `${t.name}.${c.name}` }),
  ),
);
const tables: TableSchema[] = [...schema.tables.values()].map((t) =>
  Object.assign(t, { [fc.toStringMethod]: () => t.name }),
);

/** Whether an atom is of a base type (its JS type; uuids as uuid text). */
function atomFits(base: BaseType, a: unknown): boolean {
  switch (base.type) {
    case 'integer':
      return typeof a === 'number' && Number.isInteger(a);
    case 'real':
      return typeof a === 'number' && Number.isFinite(a);
    case 'boolean':
      return typeof a === 'boolean';
    case 'string':
      return typeof a === 'string';
    case 'uuid':
      return typeof a === 'string' && uuidPattern.test(a);
  }
}

/** Whether a decoded value has the column's shape and types: nothing half-decoded. */
function valueFits(col: ColumnSchema, v: Value): boolean {
  const t = col.type;
  switch (col.shape) {
    case 'scalar':
      return atomFits(t.key, v);
    case 'optional':
      return v === null || atomFits(t.key, v);
    case 'set':
      return Array.isArray(v) && v.length <= t.max && v.every((a) => atomFits(t.key, a));
    case 'map':
      return (
        typeof v === 'object' &&
        v !== null &&
        !Array.isArray(v) &&
        Object.values(v).every((a) => atomFits(t.value!, a))
      );
  }
}

/** A clear decoding error: an Error saying what it met, not a TypeError or RangeError. */
function expectClearError(err: unknown): void {
  expect(err).to.be.instanceOf(Error);
  const e = err as Error;
  expect(['TypeError', 'RangeError', 'ReferenceError'], `${e.name}: ${e.message}`).to.not.include(
    e.name,
  );
  expect(e.message.length, e.name).to.be.greaterThan(0);
  expect(e.message).to.not.match(/Cannot read prop|undefined is not|is not a function/);
}

const uuid = fc.uuid();
/** Wire JSON as an OVSDB server might garble it: atoms, uuids, sets, maps, and anything. */
const wireAtom: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.string({ maxLength: 10 }),
  uuid,
  uuid.map((u): Json => ['uuid', u]),
  fc.string({ maxLength: 8 }).map((u): Json => ['uuid', u]),
  fc.string({ maxLength: 8 }).map((u): Json => ['named-uuid', u]),
);
const wireValue: fc.Arbitrary<Json> = fc.oneof(
  wireAtom,
  fc.array(wireAtom, { maxLength: 3 }).map((a): Json => ['set', a]),
  fc.array(fc.tuple(wireAtom, wireAtom), { maxLength: 3 }).map((p): Json => ['map', p]),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(null, [], ['set'], ['map'], ['set', 1], ['map', [[1]]], ['uuid'], {}),
);

/** A value that fits a column, as the server sends it (for rows that are not garbage). */
function goodWire(col: ColumnSchema): fc.Arbitrary<Json> {
  const atom = (b: BaseType): fc.Arbitrary<Json> => {
    switch (b.type) {
      case 'integer':
        return fc.integer({ min: b.minInteger ?? 0, max: Math.min(b.maxInteger ?? 100, 1e9) });
      case 'real':
        return fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 });
      case 'boolean':
        return fc.boolean();
      case 'string':
        return b.enum ? fc.constantFrom(...(b.enum as string[])) : fc.string({ maxLength: 6 });
      case 'uuid':
        return uuid.map((u): Json => ['uuid', u]);
    }
  };
  if (col.shape === 'map') {
    return fc
      .array(fc.tuple(atom(col.type.key), atom(col.type.value!)), { maxLength: 1 })
      .map((p): Json => ['map', p]);
  }
  if (col.shape === 'scalar') return atom(col.type.key);
  return fc.array(atom(col.type.key), { maxLength: 1 }).map((a): Json => ['set', a]);
}

describe('fuzz: OVSDB decoders with garbage', function () {
  this.timeout(120_000);

  it('decodeValue gives a value of the column’s shape and types, or a clear error', () => {
    const integer = columns.find((c) => c.shape === 'scalar' && c.type.key.type === 'integer');
    const scalarString = columns.find((c) => c.shape === 'scalar' && c.type.key.type === 'string')!;
    fc.assert(
      fc.property(fc.constantFrom(...columns), wireValue, (col, j) => {
        counter.add();
        let v: Value;
        try {
          v = decodeValue(col, j);
        } catch (err) {
          expectClearError(err);
          return;
        }
        expect(valueFits(col, v), `${JSON.stringify(j)} decoded as ${JSON.stringify(v)}`).to.equal(
          true,
        );
      }),
      {
        ...fcParams(RUNS * 25),
        examples: [
          // A string where the schema says integer, and two atoms where it says one.
          ...(integer ? [[integer, 'abc'] as [ColumnSchema, Json]] : []),
          [scalarString, ['set', ['a', 'b']]],
        ],
      },
    );
  });

  it('decodeRow of a row that is no JSON object is an error, not a row of defaults', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...tables),
        fc.oneof(
          fc.array(fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>, { maxLength: 3 }),
          fc.string({ maxLength: 6 }),
          fc.integer(),
          fc.boolean(),
          fc.constant<Json>(null),
        ),
        uuid,
        (table, j, u) => {
          counter.add();
          const cols = [...table.columns.keys()].filter((c) => !c.startsWith('_'));
          let row: Record<string, Value>;
          try {
            row = decodeRow(table, u, j, cols);
          } catch (err) {
            expectClearError(err);
            return;
          }
          expect.fail(`decodeRow(${JSON.stringify(j)}) gave a row: ${JSON.stringify(row)}`);
        },
      ),
      {
        ...fcParams(RUNS * 5),
        examples: [[tables[0]!, ['not', 'a', 'row'], '3f1c0a38-0d4b-4c43-9a1f-8f4f6f0b9a11']],
      },
    );
  });

  it('applyDiff gives a value of the column’s shape and types, or a clear error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...columns), wireValue, (col, diff) => {
        counter.add();
        let v: Value;
        try {
          v = applyDiff(col, undefined, diff);
        } catch (err) {
          expectClearError(err);
          return;
        }
        expect(valueFits(col, v), `${JSON.stringify(diff)} gave ${JSON.stringify(v)}`).to.equal(
          true,
        );
      }),
      fcParams(RUNS * 25),
    );
  });

  it('parseSchema of a garbled schema gives a schema or a SchemaParseError', () => {
    const garble = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
      // The real schema with one part replaced by something random.
      fc
        .tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>)
        .map(([at, v]) => replaceAt(schemaJson, at, v)),
    );
    fc.assert(
      fc.property(garble, (j) => {
        counter.add();
        try {
          parseSchema(j);
        } catch (err) {
          expect(err, String(err)).to.be.instanceOf(SchemaParseError);
        }
      }),
      fcParams(RUNS * 10),
    );
  });

  it('the JSON-RPC stream splitter hands over whole messages however they are cut, or throws', () => {
    const messages = fc
      .array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 5 })
      .map((ms) => ms.map((m) => ({ id: 1, result: m })));
    fc.assert(
      fc.property(messages, fc.array(fc.nat(), { maxLength: 6 }), (ms, cuts) => {
        counter.add();
        const text = ms.map((m) => JSON.stringify(m)).join('');
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let last = 0;
        for (const c of [...at, text.length]) {
          chunks.push(text.slice(last, c));
          last = c;
        }
        const splitter = new JsonStreamSplitter();
        const out = chunks.flatMap((c) => splitter.push(c));
        // As JSON text: -0 goes over the wire as 0.
        expect(out.map((t) => JSON.parse(t) as unknown)).to.deep.equal(
          JSON.parse(text.length ? `[${ms.map((m) => JSON.stringify(m)).join(',')}]` : '[]'),
        );
      }),
      fcParams(RUNS * 10),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (garbage) => {
        counter.add();
        const splitter = new JsonStreamSplitter();
        try {
          splitter.push(garbage);
        } catch (err) {
          expectClearError(err);
        }
      }),
      fcParams(RUNS * 10),
    );
  });

  it('a monitor given a garbled update applies all of it or none of it, and says why', async () => {
    const ls = schema.tables.get('Logical_Switch_Port') ?? tables[0]!;
    const cols = [...ls.columns.values()].filter((c) => !c.name.startsWith('_'));
    const start = async () => {
      const monitor = new Monitor({} as OvsdbClient, 'fuzz', { [ls.name]: undefined });
      const conn = { request: () => Promise.resolve({}) } as unknown as JsonRpcConnection;
      await monitor.start(conn, schema, 'monitor_cond');
      return monitor;
    };
    // Good rows, then one garbled column in one of them.
    const goodRow = fc.record(Object.fromEntries(cols.map((c) => [c.name, goodWire(c)])), {
      requiredKeys: [],
    });
    const update = fc.tuple(
      fc.array(fc.tuple(uuid, goodRow), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.constantFrom(...cols),
      wireValue,
    );
    await fc.assert(
      fc.asyncProperty(update, async ([rows, at, col, bad]) => {
        counter.add();
        const monitor = await start();
        const body: Record<string, Json> = {};
        rows.forEach(([u, r], i) => {
          body[u] = { insert: (i === at % rows.length ? { ...r, [col.name]: bad } : r) as Json };
        });
        let err: unknown;
        try {
          monitor.notify('update2', { [ls.name]: body });
        } catch (e) {
          err = e;
        }
        const replica = monitor.rows(ls.name);
        if (err === undefined) {
          // Applied: every row, each column fitting its type.
          expect(replica.length).to.equal(Object.keys(body).length);
          for (const row of replica) {
            for (const c of cols) {
              if (row[c.name] !== undefined) {
                expect(
                  valueFits(c, row[c.name]!),
                  `${c.name}: ${JSON.stringify(row[c.name])}`,
                ).to.equal(true);
              }
            }
          }
        } else {
          expectClearError(err);
          expect(replica, 'a refused update left part of itself in the replica').to.deep.equal([]);
        }
      }),
      {
        ...fcParams(RUNS * 5),
        examples: [
          // Two good rows, the second with an object where an atom goes: decodeAtom throws after
          // the first row is already in the replica.
          [
            [
              [
                ['3f1c0a38-0d4b-4c43-9a1f-8f4f6f0b9a11', {}],
                ['5b2d1e49-1e5c-4d54-8b20-9a5a7a1c8b22', {}],
              ],
              1,
              cols.find((c) => c.name === 'name') ?? cols[0]!,
              { not: 'an atom' },
            ],
          ],
        ],
      },
    );
  });
});

describe('fuzz: an OVSDB client given a garbled monitor update by its server', function () {
  this.timeout(120_000);

  /** Runs the fake server and a monitoring client in a child; its exit code and output. */
  const child = (garbage: Json) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/fuzz/ovsdb-garbage.child.ts', JSON.stringify(garbage)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });

  it('the process hosting the client survives it (an update2 with an object where an atom goes)', async function () {
    if (!existsSync('/usr/share/ovn/ovn-nb.ovsschema')) this.skip();
    const garbled = fc
      .tuple(uuid, fc.constantFrom('name', 'tag', 'addresses', 'options', 'up'), wireValue)
      .map(([u, col, v]): Json => ({ Logical_Switch_Port: { [u]: { insert: { [col]: v } } } }));
    await fc.assert(
      fc.asyncProperty(garbled, async (g) => {
        counter.add();
        const r = await child(g);
        expect(r.out, r.out).to.include('survived');
        expect(r.code).to.equal(0);
      }),
      {
        ...fcParams(Math.max(3, Math.round(RUNS / 20))),
        examples: [
          [
            {
              Logical_Switch_Port: {
                '3f1c0a38-0d4b-4c43-9a1f-8f4f6f0b9a11': { insert: { name: { not: 'an atom' } } },
              },
            },
          ],
        ],
      },
    );
  });
});

/** The JSON with its `at`-th node (in a walk) replaced by `v`. */
function replaceAt(j: Json, at: number, v: Json): Json {
  let n = 0;
  const total = (x: Json): number =>
    1 +
    (Array.isArray(x)
      ? x.reduce<number>((s, y) => s + total(y), 0)
      : x && typeof x === 'object'
        ? Object.values(x).reduce<number>((s, y) => s + total(y), 0)
        : 0);
  const target = at % total(j);
  const walk = (x: Json): Json => {
    if (n++ === target) return v;
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') {
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    }
    return x;
  };
  return walk(j);
}

// ---------------------------------------------------------------------------------------------
// VTN: the client's decoding of answers, from a fake VTN server that answers random bytes.

describe('fuzz: the VTN client with garbage answers', function () {
  this.timeout(120_000);
  let server: grpc.Server;
  let client: VtnClient;
  /** The bytes the fake server answers the next call with. */
  let answer: Buffer = Buffer.alloc(0);

  before(async () => {
    const { definition } = vtnProto();
    const service = definition['cordvtn.VtnService'] as grpc.ServiceDefinition;
    // Every method answers `answer` as the raw bytes of its response message.
    const raw: grpc.ServiceDefinition = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      (raw as Record<string, grpc.MethodDefinition<unknown, Buffer>>)[name] = {
        ...method,
        responseSerialize: (b: Buffer) => b,
      };
      if (method.responseStream) {
        handlers[name] = (call: grpc.ServerWritableStream<unknown, Buffer>) => {
          call.end();
        };
      } else {
        handlers[name] = (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
          cb(null, answer);
        };
      }
    }
    server = new grpc.Server();
    server.addService(raw, handlers);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => {
        if (e) reject(e);
        else resolve(p);
      });
    });
    client = new VtnClient(`127.0.0.1:${String(port)}`, { deadlineMs: 3000, maxAttempts: 2 });
  });
  after(async () => {
    client.close();
    await new Promise<void>((resolve) => {
      server.tryShutdown(() => {
        resolve();
      });
    });
  });

  type Call =
    'putNetwork' | 'listNetworks' | 'putPort' | 'listPorts' | 'listHosts' | 'hostDetected';
  const run = (c: Call): Promise<unknown> => {
    switch (c) {
      case 'putNetwork':
        return client.putNetwork({ id: 'n1', name: 'n1', type: 'PRIVATE', subnet: '10.0.0.0/24' });
      case 'listNetworks':
        return client.listNetworks();
      case 'putPort':
        return client.putPort({ id: 'p1', network_id: 'n1', name: 'p1' });
      case 'listPorts':
        return client.listPorts();
      case 'listHosts':
        return client.listHosts();
      case 'hostDetected':
        return client.hostDetected({});
    }
  };

  /** What the client promises of a decoded answer: every object with its id. */
  const expectChecked = (c: Call, v: unknown) => {
    const ids = (xs: unknown[], key: (x: unknown) => unknown) => {
      for (const x of xs) expect(key(x), JSON.stringify(x)).to.be.a('string').and.not.equal('');
    };
    const id = (x: unknown) => (x as { id?: unknown }).id;
    const mac = (x: unknown) => (x as { host_id?: { mac?: unknown } }).host_id?.mac;
    if (c === 'putNetwork' || c === 'putPort') ids([v], id);
    else if (c === 'listNetworks' || c === 'listPorts') ids(v as unknown[], id);
    else if (c === 'listHosts') ids(v as unknown[], mac);
    else ids([(v as { host?: unknown }).host], mac);
  };

  it('every call answered with random bytes resolves to checked objects or rejects with a VtnCallError, in time', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // A valid field header (field 1, length-delimited) in front of random bytes.
      fc.uint8Array({ maxLength: 40 }).map((b) => Uint8Array.from([0x0a, b.length, ...b])),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Call>(
          'putNetwork',
          'listNetworks',
          'putPort',
          'listPorts',
          'listHosts',
          'hostDetected',
        ),
        bytes,
        async (c, b) => {
          counter.add();
          answer = Buffer.from(b);
          const started = Date.now();
          const r = await run(c).then(
            (v) => ({ v }),
            (e: unknown) => ({ e }),
          );
          expect(Date.now() - started, 'answered within the deadline').to.be.below(5000);
          if ('e' in r) {
            expect(r.e, String(r.e)).to.be.instanceOf(VtnCallError);
            expect((r.e as VtnCallError).message).to.match(/VTN/);
          } else expectChecked(c, r.v);
        },
      ),
      fcParams(RUNS * 3),
    );
  });
});
