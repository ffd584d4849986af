// The benchmark runner at N = 20, as a process (`tsx bench/run.ts --scale 20 --json`), so that it
// cannot rot: every benchmark runs against the rig and reports its figures; each figure is a
// finite number with a unit, its ratio is value / floor when it has a floor, and its verdict is
// given exactly when it has a target. No timing is asserted (benchmarks print, tests assert).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { rig } from '../support/rig.js';

const exec = promisify(execFile);

interface Result {
  bench: string;
  n: number;
  figure: string;
  value: number;
  unit: string;
  floor: number | null;
  ratio: number | null;
  /** With absolute, the bound is on the value (in its unit), not on the ratio. */
  target: { op: string; ratio: number; absolute?: boolean } | null;
  met: boolean | null;
}

describe('bench: the runner at N = 20 (smoke)', function () {
  this.timeout(600_000);
  let results: Result[] = [];
  let names: string[] = [];

  before(async function () {
    this.timeout(45 * 60_000);
    await rig();
    const help = await exec(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--help']);
    names = [...help.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!);
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--scale', '20', '--json'],
      { maxBuffer: 16 * 2 ** 20 },
    );
    results = (JSON.parse(stdout) as { results: Result[] }).results;
  });

  it('runs every benchmark the help lists, each with figures at N = 20', () => {
    expect(names.length).to.be.at.least(6);
    for (const name of names) {
      const mine = results.filter((r) => r.bench === name);
      expect(mine.length, `figures of ${name}`).to.be.greaterThan(0);
      for (const r of mine) expect(r.n).to.equal(20);
    }
  });

  it('gives each figure a finite value and a unit, a ratio to its floor, a verdict for its target', () => {
    for (const r of results) {
      const what = `${r.bench}: ${r.figure}`;
      expect(Number.isFinite(r.value), what).to.equal(true);
      expect(r.value, what).to.be.at.least(0);
      expect(r.unit, what).to.be.a('string').and.not.equal('');
      if (r.floor !== null && r.floor > 0) {
        expect(r.ratio, what).to.be.closeTo(r.value / r.floor, 1e-9);
      } else if (r.floor === 0 && r.value === 0) {
        expect(r.ratio, `${what}: nothing against nothing`).to.equal(1);
      } else {
        expect(r.ratio, what).to.equal(null);
      }
      if (r.target) {
        expect(r.met, what).to.be.a('boolean');
        const measured = r.target.absolute ? r.value : r.ratio;
        if (measured !== null) {
          const met = r.target.op === '>=' ? measured >= r.target.ratio : measured < r.target.ratio;
          expect(r.met, what).to.equal(met);
        }
      } else {
        expect(r.met, what).to.equal(null);
      }
    }
  });
});
