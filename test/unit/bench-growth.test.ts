// How the benchmark runner says a figure grows with N (`--scale a,b`): the total cost's exponent,
// from the value for times, sizes and counts, from N / rate for rates.
import { expect } from 'chai';
import { growthOf, type Result } from '../../bench/harness.js';

const result = (figure: string, unit: string, n: number, value: number): Result => ({
  bench: 'b',
  n,
  figure,
  value,
  unit,
  floor: null,
  ratio: null,
  target: null,
  met: null,
});

describe('bench: growth with N', () => {
  it('says linear for a time that grows as N, constant for a count that does not', () => {
    const g = growthOf([
      result('converge', 'ms', 100, 50),
      result('converge', 'ms', 1000, 500),
      result('requests', 'requests', 100, 3),
      result('requests', 'requests', 1000, 3),
    ]);
    expect(g.map((x) => [x.figure, x.verdict])).to.deep.equal([
      ['converge', 'linear'],
      ['requests', 'constant'],
    ]);
    expect(g[0]!.exponent).to.be.closeTo(1, 1e-9);
  });

  it('reads a throughput that holds as a linear total, and one that halves as superlinear', () => {
    const g = growthOf([
      result('creates', 'objects/s', 1000, 5000),
      result('creates', 'objects/s', 10000, 5000),
      result('slowing', 'objects/s', 1000, 5000),
      result('slowing', 'objects/s', 10000, 500),
    ]);
    expect(g.map((x) => [x.figure, x.verdict, Number(x.exponent.toFixed(2))])).to.deep.equal([
      ['creates', 'linear', 1],
      ['slowing', 'superlinear', 2],
    ]);
  });

  it('says nothing of a figure measured at one N; nothing at both N is constant', () => {
    const g = growthOf([
      result('once', 'ms', 20, 5),
      result('zero', 'requests', 20, 0),
      result('zero', 'requests', 2000, 0),
    ]);
    expect(g.map((x) => [x.figure, x.verdict, x.exponent])).to.deep.equal([
      ['zero', 'constant', 0],
    ]);
  });
});
