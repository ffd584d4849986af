// The GUI's browser tests: the page built (web/dist, rebuilt when web/ is newer), Debian's
// Chromium driven headless through playwright-core, and screenshots kept for a look.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

const exec = promisify(execFile);

export const SCREENSHOTS = 'test/web/screenshots';

/** The newest modification time of the files under a path. */
function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Builds web/dist when it is missing or older than the page's sources. */
export async function ensureWebBuilt(): Promise<void> {
  const index = 'web/dist/index.html';
  const sources = Math.max(
    newest('web/src'),
    newest('web/index.html'),
    newest('web/vite.config.ts'),
    newest('package-lock.json'),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  process.stderr.write('[test] building the GUI (npm run build:web)\n');
  await exec(
    process.execPath,
    [
      'node_modules/vite/bin/vite.js',
      'build',
      '--config',
      'web/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    { maxBuffer: 16 << 20 },
  );
}

/** Headless Chromium (the rig's SYNCORD_CHROMIUM, Debian's package). */
export async function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    // Chromium's sandbox needs user namespaces, which root in a container does not get.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** Saves a full-page screenshot as test/web/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export { freePort } from './rig.js';

/**
 * Starts recording, in the page, every status a badge shows: `badgeHistory(page, testid)` then
 * returns them in order (consecutive repeats folded). A MutationObserver sees each change,
 * however short-lived, which polling from the test could miss.
 */
export async function recordBadges(page: Page): Promise<void> {
  await page.evaluate(RECORDER);
}

/** The recorder, run in the page (as text: the tests' TypeScript has no DOM types). */
const RECORDER = `(() => {
  if (window.__badges) return;
  const seen = {};
  window.__badges = seen;
  const note = (el) => {
    const id = el.getAttribute('data-testid');
    const status = el.getAttribute('data-status');
    if (!id || !id.startsWith('status-') || !status) return;
    const list = (seen[id] = seen[id] || []);
    if (list[list.length - 1] !== status) list.push(status);
  };
  const scan = (root) => {
    if (root.matches('[data-testid^="status-"][data-status]')) note(root);
    root.querySelectorAll('[data-testid^="status-"][data-status]').forEach(note);
  };
  scan(document.body);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target instanceof Element) note(r.target);
      r.addedNodes.forEach((n) => {
        if (n instanceof Element) scan(n);
      });
    }
  }).observe(document.body, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-status', 'data-testid'],
  });
})()`;

export async function badgeHistory(page: Page, testid: string): Promise<string[]> {
  const seen: unknown = await page.evaluate(
    `(window.__badges && window.__badges[${JSON.stringify(testid)}]) || []`,
  );
  return seen as string[];
}
