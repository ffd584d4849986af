// The keyed work queue and the backoff: pure logic, no processes.
import { expect } from 'chai';
import { backoffMs, WorkQueue } from '../../synchronizer/queue.js';

describe('unit: work queue', () => {
  it('queues a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).to.equal(2);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal('b');
    expect(q.depth).to.equal(0);
  });

  it('puts unblocked work ahead of the queue, moving a queued key up, never twice', async () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'c']) q.add(k);
    q.addFirst('w');
    q.addFirst('c');
    expect(q.depth).to.equal(4);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await q.get())!);
    expect(order).to.deep.equal(['c', 'w', 'a', 'b']);
  });

  it('never hands a key being processed to a second worker; re-queues it when done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    q.add('a'); // an event arrives while a worker has it
    expect(q.depth).to.equal(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).to.equal(undefined);
    q.done(first!);
    await new Promise((r) => setTimeout(r, 0));
    expect(second).to.equal('a');
  });

  it('delays keys, an earlier delayed add winning', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 200);
    q.addAfter('a', 20);
    q.addAfter('a', 500);
    expect(q.depth).to.equal(0);
    expect(q.has('a')).to.be.true;
    const t0 = Date.now();
    expect(await q.get()).to.equal('a');
    const waited = Date.now() - t0;
    expect(waited).to.be.within(10, 150);
    q.shutDown();
  });

  it('a key handed out drops its pending delayed add (no stale retry after success)', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 50);
    q.add('a');
    expect(await q.get()).to.equal('a');
    expect(q.delayedCount).to.equal(0);
    q.done('a');
    await new Promise((r) => setTimeout(r, 100));
    expect(q.depth).to.equal(0);
  });

  it('hands a worker more ready keys that match for a batch, each then processing', async () => {
    const q = new WorkQueue();
    for (const k of ['Port:1', 'Network:1', 'Port:2', 'Port:3', 'Port:4']) q.add(k);
    const first = await q.get();
    expect(first).to.equal('Port:1');
    const more = q.takeMatching((k) => k.startsWith('Port:'), 2);
    expect(more).to.deep.equal(['Port:2', 'Port:3']);
    expect(q.depth).to.equal(2);
    expect(q.inFlight).to.equal(3);
    // Added again while in a batch: queued once more when its worker is done, not before.
    q.add('Port:2');
    expect(q.depth).to.equal(2);
    for (const k of ['Port:1', 'Port:2', 'Port:3']) q.done(k);
    expect(await q.get()).to.equal('Network:1');
    expect(await q.get()).to.equal('Port:4');
    expect(await q.get()).to.equal('Port:2');
    expect(q.takeMatching(() => true, 5)).to.deep.equal([]);
  });

  it('hands waiting workers undefined on shutdown', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.shutDown();
    expect(await got).to.equal(undefined);
    q.add('x');
    expect(q.depth).to.equal(0);
  });

  it('backs off exponentially with jitter, up to a cap', () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect(backoffMs(1, 1000, 60_000, low)).to.equal(500);
    expect(backoffMs(1, 1000, 60_000, high)).to.equal(1000);
    expect(backoffMs(4, 1000, 60_000, low)).to.equal(4000);
    expect(backoffMs(4, 1000, 60_000, high)).to.equal(8000);
    expect(backoffMs(40, 1000, 60_000, high)).to.equal(60_000);
    expect(backoffMs(40, 1000, 60_000, low)).to.equal(30_000);
  });
});
