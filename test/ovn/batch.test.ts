// The OVN steps' group commit against the rig's northbound ovsdb-server: writes made while one is
// in flight go together in the next transaction, each with its own named-uuids and results; a
// write whose guard fails is refused alone, the others of its batch still commit.
import { expect } from 'chai';
import {
  eq,
  insert,
  mutate,
  namedUuid,
  OvsdbClient,
  wait,
  type Operation,
} from '../../backends/ovn/ovsdb.js';
import { WaitingError } from '../../synchronizer/engine.js';
import { write } from '../../steps/ovn/runtime.js';
import type { Database } from '../../steps/ovn/connection.js';
import { rig, uniqueName } from '../support/rig.js';

describe('ovn: writes in flight share one transaction', function () {
  this.timeout(60_000);
  let db: Database;
  let transactions = 0;
  const made: string[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    const env = await rig();
    const client = await OvsdbClient.connect(env.OVN_NB_DB, {
      database: 'OVN_Northbound',
      trace: (direction, text) => {
        if (direction === 'send' && text.includes('"transact"')) transactions++;
      },
    });
    db = { client, monitor: await client.monitor({ Logical_Switch: ['name'] }) };
  });

  after(async () => {
    for (const name of made) {
      await db.client.transact([
        { op: 'delete', table: 'Logical_Switch', where: [eq('name', name)] },
      ]);
    }
    db.client.close();
  });

  /** A switch and a port on it, both named-uuids the same in every write ('ls', 'lsp'). */
  const switchWithPort = (name: string): Operation[] => {
    made.push(name);
    return [
      insert('Logical_Switch', { name }, 'ls'),
      insert('Logical_Switch_Port', { name: `${name}-p` }, 'lsp'),
      mutate(
        'Logical_Switch',
        [eq('_uuid', namedUuid('ls'))],
        [['ports', 'insert', [namedUuid('lsp')]]],
      ),
    ];
  };

  it('merges the writes that wait behind one in flight, each getting its own results', async () => {
    const names = Array.from({ length: 6 }, () => uniqueName('batched'));
    transactions = 0;
    const results = await Promise.all(names.map((n) => write(db, switchWithPort(n))));
    // The first goes alone; the five that arrived meanwhile go together.
    expect(transactions).to.equal(2);
    for (const [i, r] of results.entries()) {
      expect(r).to.have.length(3);
      const ls = (r[0] as { uuid: string }).uuid;
      const row = await db.monitor.until(`switch ${names[i]!}`, () =>
        db.monitor.get('Logical_Switch', ls),
      );
      expect(row.name).to.equal(names[i]);
    }
  });

  it('refuses only the write whose guard failed; the rest of its batch commits', async () => {
    const [a, b, c] = [uniqueName('ok-a'), uniqueName('stale'), uniqueName('ok-c')];
    const stale: Operation[] = [
      wait('Logical_Switch', [eq('name', 'no-such-switch-ever')], ['name'], '==', [
        { name: 'no-such-switch-ever' },
      ]),
      ...switchWithPort(b),
    ];
    transactions = 0;
    const outcomes = await Promise.allSettled([
      write(db, switchWithPort(uniqueName('first'))),
      write(db, switchWithPort(a)),
      write(db, stale),
      write(db, switchWithPort(c)),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const sent = transactions;
    const refused = (outcomes[2] as PromiseRejectedResult).reason as Error;
    expect(refused).to.be.instanceOf(WaitingError);
    expect(refused.message).to.match(/rows changed while this sync ran/);
    for (const name of [a, c]) {
      const [found] = await db.client.transact([
        { op: 'select', table: 'Logical_Switch', where: [eq('name', name)], columns: ['name'] },
      ]);
      expect((found as { rows: unknown[] }).rows).to.have.length(1);
    }
    const [none] = await db.client.transact([
      { op: 'select', table: 'Logical_Switch', where: [eq('name', b)], columns: ['name'] },
    ]);
    expect((none as { rows: unknown[] }).rows).to.have.length(0);
    // The first alone, the merged three (refused), then each of the three again alone.
    expect(sent).to.equal(5);
  });
});
