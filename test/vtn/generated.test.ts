// The TypeScript types in backends/vtn/generated are generated from the protos (npm run protos):
// a proto edited without regenerating them fails here.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('vtn: generated types', function () {
  this.timeout(60_000);
  it('match the protos (run `npm run protos` after editing them)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncord-protos-'));
    try {
      const scripts = (
        JSON.parse(readFileSync('package.json', 'utf8')) as {
          scripts: Record<string, string>;
        }
      ).scripts;
      const args = scripts['protos:vtn']!.split(' ')
        .slice(1)
        .map((a) => (a.startsWith('--outDir=') ? `--outDir=${out}` : a));
      await exec(process.execPath, [
        'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js',
        ...args,
      ]);
      const fresh = files(out);
      const committed = files('backends/vtn/generated');
      expect([...committed.keys()].sort()).to.deep.equal([...fresh.keys()].sort());
      for (const [name, text] of fresh) {
        expect(committed.get(name), `${name} is stale`).to.equal(text);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
