// The directory of Syncord's package.json: the files that ship beside the code (protos/, the
// GUI's web/dist/) are found from it, so that the same lookup works when the code runs from
// TypeScript through tsx (models/…) and compiled by `npm run build` (dist/models/…), as the
// container image runs it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'syncord') {
          return dir;
        }
      } catch {
        // not ours; go on up
      }
    }
    if (dirname(dir) === dir) {
      throw new Error(`no package.json of syncord in ${start} or above it`);
    }
  }
}

/** Syncord's package directory (holding package.json, protos/, web/). */
export const PACKAGE_ROOT = find();
