// The keyed coalescer the pod observer hands its database work to: per key in order and one at a
// time, bursts merged, at most `concurrency` keys at once.
import { expect } from 'chai';
import { KeyedCoalescer } from '../../synchronizer/keyed.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('keyed coalescer', () => {
  it('handles a key one job at a time, merging what arrives meanwhile into one more run', async () => {
    const runs: string[] = [];
    let active = 0;
    let most = 0;
    const c = new KeyedCoalescer<string[]>(
      async (key, job) => {
        active++;
        most = Math.max(most, active);
        runs.push(`${key}:${job.join(',')}`);
        await tick();
        active--;
      },
      { concurrency: 4 },
    );
    const push = (key: string, ev: string) => {
      c.push(key, (pending) => [...(pending ?? []), ev]);
    };
    push('a', '1');
    push('a', '2'); // a:1 is running: 2, 3 and 4 become one job
    push('a', '3');
    push('a', '4');
    await c.drained();
    expect(runs).to.deep.equal(['a:1', 'a:2,3,4']);
    expect(most).to.equal(1);
  });

  it('runs different keys in parallel, never more than the bound', async () => {
    let active = 0;
    let most = 0;
    const done: string[] = [];
    const c = new KeyedCoalescer<number>(
      async (key) => {
        active++;
        most = Math.max(most, active);
        await tick();
        done.push(key);
        active--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i++) c.push(`k${String(i)}`, () => i);
    expect(c.size).to.equal(10);
    await c.drained();
    expect(done).to.have.length(10);
    expect(most).to.equal(3);
    expect(c.size).to.equal(0);
  });

  it('reports a failing job and goes on with the others', async () => {
    const errors: unknown[] = [];
    const done: string[] = [];
    const c = new KeyedCoalescer<number>(
      (key) => {
        if (key === 'bad') return Promise.reject(new Error('boom'));
        done.push(key);
        return Promise.resolve();
      },
      { concurrency: 2, onError: (e) => errors.push(e) },
    );
    c.push('bad', () => 1);
    c.push('good', () => 2);
    await c.drained();
    expect(done).to.deep.equal(['good']);
    expect((errors[0] as Error).message).to.equal('boom');
  });
});
