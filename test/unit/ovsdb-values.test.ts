// OVSDB values to and from plain JS, and the schema checks that refuse an operation before it is
// sent, against the real OVN northbound schema read from disk (no server needed).
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { Json } from '../../backends/ovn/jsonrpc.js';
import {
  applyDiff,
  comment,
  decodeResults,
  decodeRow,
  decodeValue,
  del,
  encodeTransaction,
  encodeValue,
  eq,
  insert,
  mutate,
  namedUuid,
  OvsdbSchemaError,
  OvsdbTransactionError,
  parseSchema,
  select,
  update,
  valuesEqual,
  wait,
  type ColumnSchema,
  type DatabaseSchema,
  type Operation,
} from '../../backends/ovn/ovsdb.js';

const nb = parseSchema(JSON.parse(readFileSync('/usr/share/ovn/ovn-nb.ovsschema', 'utf8')) as Json);
const u1 = '0a4ee10b-0809-4177-bed3-8af8e0e14105';
const u2 = '9c1d2c7e-5b4f-4d7a-9f0e-3a2b1c0d9e8f';

function col(table: string, column: string, schema: DatabaseSchema = nb): ColumnSchema {
  const c = schema.tables.get(table)?.columns.get(column);
  if (!c) throw new Error(`${table}.${column} not in schema`);
  return c;
}

function refused(fn: () => unknown): OvsdbSchemaError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(OvsdbSchemaError);
    return err as OvsdbSchemaError;
  }
  throw new Error('expected an OvsdbSchemaError');
}

function encode(ops: Operation[], schema: DatabaseSchema = nb): Json[] {
  return encodeTransaction(schema, ops);
}

describe('OVSDB schema parsing (the real OVN_Northbound schema)', () => {
  it('reads tables, column shapes, constraints and references', () => {
    expect(nb.name).to.equal('OVN_Northbound');
    expect(nb.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(col('Logical_Switch', 'name').shape).to.equal('scalar');
    expect(col('Logical_Switch', 'ports').shape).to.equal('set');
    expect(col('Logical_Switch', 'ports').type.key).to.deep.equal({
      type: 'uuid',
      refTable: 'Logical_Switch_Port',
      refType: 'strong',
    });
    expect(col('Logical_Switch', 'external_ids').shape).to.equal('map');
    expect(col('Logical_Switch_Port', 'tag_request').shape).to.equal('optional');
    expect(col('Logical_Switch_Port', 'tag_request').type.key).to.deep.equal({
      type: 'integer',
      minInteger: 0,
      maxInteger: 4095,
    });
    expect(col('ACL', 'action').type.key.enum).to.include('allow-related');
    expect(col('Logical_Router_Port', 'networks').type).to.include({ min: 1, max: Infinity });
    expect(nb.tables.get('Logical_Switch_Port')?.isRoot).to.equal(false);
    expect(nb.tables.get('Logical_Switch_Port')?.indexes).to.deep.equal([['name']]);
    expect(nb.tables.get('NB_Global')?.maxRows).to.equal(1);
    expect(col('Logical_Switch', '_uuid')).to.include({ readOnly: true, shape: 'scalar' });
  });
});

describe('OVSDB values to and from plain JS', () => {
  it('encodes each shape as RFC 7047 JSON', () => {
    expect(encodeValue('Logical_Switch', col('Logical_Switch', 'name'), 'ls0')).to.equal('ls0');
    expect(encodeValue('Logical_Switch', col('Logical_Switch', 'ports'), [u1, u2])).to.deep.equal([
      'set',
      [
        ['uuid', u1],
        ['uuid', u2],
      ],
    ]);
    expect(
      encodeValue('Logical_Switch', col('Logical_Switch', 'ports'), [namedUuid('p0')]),
    ).to.deep.equal(['set', [['named-uuid', 'p0']]]);
    expect(
      encodeValue('Logical_Switch', col('Logical_Switch', 'other_config'), {
        subnet: '10.0.0.0/24',
      }),
    ).to.deep.equal(['map', [['subnet', '10.0.0.0/24']]]);
    const tag = col('Logical_Switch_Port', 'tag_request');
    expect(encodeValue('Logical_Switch_Port', tag, 5)).to.deep.equal(['set', [5]]);
    expect(encodeValue('Logical_Switch_Port', tag, null)).to.deep.equal(['set', []]);
    expect(encodeValue('Logical_Switch_Port', tag, [])).to.deep.equal(['set', []]);
    // A map with integer values and enum-restricted keys.
    expect(encodeValue('QoS', col('QoS', 'bandwidth'), { rate: 100, burst: 10 })).to.deep.equal([
      'map',
      [
        ['rate', 100],
        ['burst', 10],
      ],
    ]);
    expect(encodeValue('NB_Global', col('NB_Global', 'ipsec'), false)).to.equal(false);
  });

  it('refuses values that do not fit, naming the table, column and reason', () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['Logical_Switch', 'name', 5, /Logical_Switch.name: expected a string, got number 5/],
      ['Logical_Switch', 'name', ['a'], /expected a single string, got an array/],
      ['Logical_Switch', 'ports', 'not-a-uuid', /expected an array/],
      [
        'Logical_Switch',
        'ports',
        ['not-a-uuid'],
        /expected a uuid \(reference to Logical_Switch_Port\)/,
      ],
      ['Logical_Switch', 'ports', [u1, u1], /duplicate set element/],
      [
        'Logical_Switch',
        'other_config',
        ['subnet'],
        /expected an object \(a map of string to string\)/,
      ],
      ['Logical_Switch', 'other_config', { subnet: 24 }, /other_config:subnet: expected a string/],
      ['Logical_Switch_Port', 'tag_request', 4096, /4096 is greater than the maximum 4095/],
      ['Logical_Switch_Port', 'tag_request', -1, /-1 is less than the minimum 0/],
      ['Logical_Switch_Port', 'tag_request', 1.5, /expected an integer/],
      ['Logical_Switch_Port', 'tag_request', [1, 2], /takes at most 1 element, got 2/],
      ['Logical_Switch_Port', 'enabled', 'true', /expected a boolean/],
      ['ACL', 'action', 'permit', /"permit" is not one of "allow", /],
      ['ACL', 'priority', 2 ** 60, /beyond 2\^53/],
      [
        'QoS',
        'bandwidth',
        { speed: 1 },
        /QoS.bandwidth:speed: "speed" is not one of "rate", "burst"/,
      ],
      ['Logical_Router_Port', 'networks', [], /needs at least 1 element, got 0/],
      ['Logical_Switch', 'name', namedUuid('x'), /named-uuid x given for a string/],
      ['Logical_Switch', 'ports', [namedUuid('1bad')], /"1bad" is not a valid uuid-name/],
      ['Logical_Switch', 'name', undefined, /no value given/],
    ];
    for (const [table, column, value, reason] of cases) {
      const err = refused(() => encodeValue(table, col(table, column), value));
      expect(err.message, `${table}.${column} ${String(value)}`).to.match(reason);
      expect(err.table).to.equal(table);
    }
  });

  it('decodes each shape into plain JS: uuids as strings, sets as arrays, maps as records', () => {
    expect(decodeValue(col('Logical_Switch', 'name'), 'ls0')).to.equal('ls0');
    expect(decodeValue(col('Logical_Switch', '_uuid'), ['uuid', u1])).to.equal(u1);
    // A one-element set may come bare.
    expect(decodeValue(col('Logical_Switch', 'ports'), ['uuid', u1])).to.deep.equal([u1]);
    expect(
      decodeValue(col('Logical_Switch', 'ports'), [
        'set',
        [
          ['uuid', u1],
          ['uuid', u2],
        ],
      ]),
    ).to.deep.equal([u1, u2]);
    expect(decodeValue(col('Logical_Switch_Port', 'addresses'), 'mac ip')).to.deep.equal([
      'mac ip',
    ]);
    expect(decodeValue(col('Logical_Switch_Port', 'tag_request'), ['set', []])).to.equal(null);
    expect(decodeValue(col('Logical_Switch_Port', 'tag_request'), 7)).to.equal(7);
    expect(decodeValue(col('Logical_Switch_Port', 'tag_request'), ['set', [7]])).to.equal(7);
    expect(
      decodeValue(col('Logical_Switch', 'external_ids'), [
        'map',
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ]),
    ).to.deep.equal({ a: '1', b: '2' });
    expect(decodeValue(col('QoS', 'bandwidth'), ['map', [['rate', 100]]])).to.deep.equal({
      rate: 100,
    });
  });

  it('fills the defaults of monitored columns an update leaves out', () => {
    const table = nb.tables.get('Logical_Switch_Port')!;
    const row = decodeRow(table, u1, { name: 'p' }, [
      'name',
      'type',
      'addresses',
      'tag_request',
      'options',
      'up',
    ]);
    expect(row).to.deep.equal({
      _uuid: u1,
      name: 'p',
      type: '',
      addresses: [],
      tag_request: null,
      options: {},
      up: null,
    });
  });

  it('applies update2 modify diffs: scalar and optional replaced, set symmetric difference, map pair rules', () => {
    expect(applyDiff(col('Logical_Switch', 'name'), 'a', 'b')).to.equal('b');
    // A column of at most one value gets its new value (as ovsdb-server sends it), not a diff.
    const tag = col('Logical_Switch_Port', 'tag_request');
    expect(applyDiff(tag, null, ['set', [5]])).to.equal(5);
    expect(applyDiff(tag, 5, 6)).to.equal(6);
    expect(applyDiff(tag, 5, ['set', []])).to.equal(null);
    expect(applyDiff(col('Logical_Switch_Port', 'up'), false, true)).to.equal(true);
    const addresses = col('Logical_Switch_Port', 'addresses');
    expect(applyDiff(addresses, ['a', 'b'], ['set', ['b', 'c']])).to.deep.equal(['a', 'c']);
    expect(applyDiff(addresses, ['a'], 'a')).to.deep.equal([]);
    const ids = col('Logical_Switch', 'external_ids');
    expect(
      applyDiff(ids, { keep: '1', drop: '2', change: '3' }, [
        'map',
        [
          ['drop', '2'],
          ['change', '4'],
          ['add', '5'],
        ],
      ]),
    ).to.deep.equal({ keep: '1', change: '4', add: '5' });
  });

  it('compares sets regardless of order and maps by content', () => {
    expect(valuesEqual(['a', 'b'], ['b', 'a'])).to.equal(true);
    expect(valuesEqual(['a', 'b'], ['a'])).to.equal(false);
    expect(valuesEqual({ a: '1' }, { a: '1' })).to.equal(true);
    expect(valuesEqual({ a: '1' }, { a: '2' })).to.equal(false);
    expect(valuesEqual(null, [])).to.equal(false);
  });
});

describe('OVSDB operations checked against the schema before sending', () => {
  it('encodes a switch and its port inserted together with a named-uuid', () => {
    expect(
      encode([
        insert(
          'Logical_Switch_Port',
          { name: 'p', addresses: ['02:00:00:00:00:01 10.0.0.2'] },
          'p',
        ),
        insert('Logical_Switch', { name: 'ls', ports: [namedUuid('p')] }, 'ls'),
        comment('syncord: network 1'),
      ]),
    ).to.deep.equal([
      'OVN_Northbound',
      {
        op: 'insert',
        table: 'Logical_Switch_Port',
        row: { name: 'p', addresses: ['set', ['02:00:00:00:00:01 10.0.0.2']] },
        'uuid-name': 'p',
      },
      {
        op: 'insert',
        table: 'Logical_Switch',
        row: { name: 'ls', ports: ['set', [['named-uuid', 'p']]] },
        'uuid-name': 'ls',
      },
      { op: 'comment', comment: 'syncord: network 1' },
    ]);
  });

  it('encodes where clauses, mutations, wait and select', () => {
    const where = [eq('_uuid', u1)];
    expect(
      encode([
        mutate('Logical_Switch', where, [
          ['external_ids', 'insert', { a: '1' }],
          ['external_ids', 'delete', ['b', 'c']],
          ['external_ids', 'delete', { d: '4' }],
          ['ports', 'insert', [u2]],
          ['ports', 'delete', u2],
        ]),
        mutate('Logical_Switch_Port', [['tag_request', 'includes', 5]], [['tag_request', '+=', 1]]),
        wait('Logical_Switch', where, ['external_ids'], '==', [{ external_ids: { gen: '1' } }], 0),
        select('Logical_Switch', [['external_ids', 'includes', { owner: 'x' }]], ['name']),
        del('Logical_Switch', [['name', '!=', 'keep']]),
      ]).slice(1),
    ).to.deep.equal([
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['_uuid', '==', ['uuid', u1]]],
        mutations: [
          ['external_ids', 'insert', ['map', [['a', '1']]]],
          ['external_ids', 'delete', ['set', ['b', 'c']]],
          ['external_ids', 'delete', ['map', [['d', '4']]]],
          ['ports', 'insert', ['set', [['uuid', u2]]]],
          ['ports', 'delete', ['set', [['uuid', u2]]]],
        ],
      },
      {
        op: 'mutate',
        table: 'Logical_Switch_Port',
        where: [['tag_request', 'includes', ['set', [5]]]],
        mutations: [['tag_request', '+=', 1]],
      },
      {
        op: 'wait',
        table: 'Logical_Switch',
        where: [['_uuid', '==', ['uuid', u1]]],
        columns: ['external_ids'],
        until: '==',
        rows: [{ external_ids: ['map', [['gen', '1']]] }],
        timeout: 0,
      },
      {
        op: 'select',
        table: 'Logical_Switch',
        where: [['external_ids', 'includes', ['map', [['owner', 'x']]]]],
        columns: ['name'],
      },
      { op: 'delete', table: 'Logical_Switch', where: [['name', '!=', 'keep']] },
    ]);
  });

  it('refuses what the schema does not allow, naming op index, table, column and reason', () => {
    const cases: [Operation[], string][] = [
      [
        [insert('Logical_Swich', { name: 'x' })],
        'op 0: table Logical_Swich: no such table in database OVN_Northbound',
      ],
      [
        [comment('x'), insert('Logical_Switch', { name: 'x', colour: 'red' })],
        'op 1: Logical_Switch.colour: no such column in table Logical_Switch',
      ],
      [
        [insert('Logical_Switch', { _uuid: u1 })],
        'op 0: Logical_Switch._uuid: is read-only (maintained by the server)',
      ],
      [
        [update('Logical_Switch', [], { _version: u1 })],
        'op 0: Logical_Switch._version: is read-only (maintained by the server)',
      ],
      [
        [update('Logical_Switch', [eq('nam', 'x')], { name: 'y' })],
        'op 0: Logical_Switch.nam: no such column in table Logical_Switch',
      ],
      [
        [update('Logical_Switch', [['name', '<', 'x']], { name: 'y' })],
        'op 0: Logical_Switch.name: < applies only to an integer or real column of at most one value',
      ],
      [
        [mutate('Logical_Switch', [], [['name', '+=', 1]])],
        'op 0: Logical_Switch.name: += applies only to integer or real columns',
      ],
      [
        [mutate('Logical_Switch', [], [['external_ids', '+=', 1]])],
        'op 0: Logical_Switch.external_ids: += applies only to integer or real columns',
      ],
      [
        [mutate('ACL', [], [['priority', 'insert', [1]]])],
        'op 0: ACL.priority: insert applies only to sets and maps; this column holds one value',
      ],
      [
        [mutate('Logical_Switch_Port', [], [['tag_request', '/=', 0]])],
        'op 0: Logical_Switch_Port.tag_request: /= 0 divides by zero',
      ],
      [[mutate('Logical_Switch', [], [])], 'op 0: table Logical_Switch: mutate with no mutations'],
      [
        [mutate('Logical_Switch', [], [['ports', 'insert', ['x']]])],
        'op 0: Logical_Switch.ports: expected a uuid (reference to Logical_Switch_Port) (a UUID string), got string "x"',
      ],
      [
        [insert('Logical_Switch', { name: 'x', ports: [namedUuid('p')] })],
        'op 0: table Logical_Switch: named-uuid p is not declared by any insert of this transaction',
      ],
      [
        [
          insert('Logical_Switch', { name: 'a' }, 'x'),
          insert('Logical_Switch', { name: 'b' }, 'x'),
        ],
        'op 1: table Logical_Switch: uuid-name x is already used by op 0',
      ],
      [
        [wait('Logical_Switch', [], ['name'], '==', [{ external_ids: {} }])],
        'op 0: Logical_Switch.external_ids: a wait row may hold only the columns the wait lists',
      ],
      [
        [select('Logical_Switch', [], ['name', 'nope'])],
        'op 0: Logical_Switch.nope: no such column in table Logical_Switch',
      ],
    ];
    for (const [ops, message] of cases) {
      const err = refused(() => encode(ops));
      expect(err.message).to.equal(message);
    }
    const err = refused(() => encode([comment('a'), update('Logical_Switch', [], { name: 7 })]));
    expect([err.opIndex, err.table, err.column]).to.deep.equal([1, 'Logical_Switch', 'name']);
    expect(err.reason).to.equal('expected a string, got number 7');
  });

  it('refuses to write an immutable column after insert', () => {
    const schema = parseSchema({
      name: 'Test',
      version: '1.0.0',
      tables: {
        T: {
          columns: {
            fixed: { type: 'string', mutable: false },
            counts: { type: { key: 'integer', min: 0, max: 'unlimited' }, mutable: false },
          },
        },
      },
    });
    expect(encode([insert('T', { fixed: 'set once' })], schema)[1]).to.deep.equal({
      op: 'insert',
      table: 'T',
      row: { fixed: 'set once' },
    });
    expect(refused(() => encode([update('T', [], { fixed: 'x' })], schema)).message).to.equal(
      'op 0: T.fixed: is immutable: it can be set only when the row is inserted',
    );
    expect(
      refused(() => encode([mutate('T', [], [['counts', 'insert', [1]]])], schema)).message,
    ).to.equal('op 0: T.counts: is immutable: it cannot be mutated');
  });
});

describe('OVSDB transaction results', () => {
  const ops: Operation[] = [
    insert('Logical_Switch', { name: 'a' }),
    select('Logical_Switch', [], ['name', 'ports']),
    update('Logical_Switch', [], { name: 'b' }),
    wait('Logical_Switch', [], ['name'], '==', []),
  ];

  it('maps results back to plain JS', () => {
    expect(
      decodeResults(nb, ops, [
        { uuid: ['uuid', u1] },
        { rows: [{ name: 'a', ports: ['set', []] }] },
        { count: 2 },
        {},
      ]),
    ).to.deep.equal([{ uuid: u1 }, { rows: [{ name: 'a', ports: [] }] }, { count: 2 }, {}]);
  });

  it('reports the failed op with its index, table and the server error and details', () => {
    try {
      decodeResults(nb, ops, [
        { uuid: ['uuid', u1] },
        {},
        { error: 'constraint violation', details: 'name too long' },
        null,
      ]);
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(OvsdbTransactionError);
      const e = err as OvsdbTransactionError;
      expect([e.opIndex, e.op, e.table, e.error, e.details]).to.deep.equal([
        2,
        'update',
        'Logical_Switch',
        'constraint violation',
        'name too long',
      ]);
      expect(e.message).to.equal(
        'transaction failed at op 2 (update on Logical_Switch): constraint violation: name too long; nothing was applied',
      );
    }
  });

  it('reports a commit failure (the extra result element)', () => {
    try {
      decodeResults(nb, ops, [
        { uuid: ['uuid', u1] },
        { rows: [] },
        { count: 1 },
        {},
        { error: 'referential integrity violation', details: 'dangling reference' },
      ]);
      expect.fail('no error');
    } catch (err) {
      expect((err as Error).message).to.equal(
        'transaction failed at commit: referential integrity violation: dangling reference; nothing was applied',
      );
      expect((err as OvsdbTransactionError).opIndex).to.equal(4);
    }
  });
});
