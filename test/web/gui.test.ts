// The operator GUI in a real browser (Debian's Chromium, headless, through playwright-core)
// against `syncord serve` (a process, with the Kubernetes, OVN and VTN steps) on the rig: log in,
// load the vSG chain recipe through the TOSCA page and watch the badges go from pending to ok,
// edit a Port's IP to one that is taken and see the error beside the field, an edit on a stale
// version told so, a pod deleted out of band with kubectl seen going pending and back to ok, the
// service graph and the dashboard, and a viewer offered no edit buttons. Screenshots of the main
// pages are saved to test/web/screenshots/.
import { expect } from 'chai';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ownerSelector } from '../../backends/kubernetes/labels.js';
import {
  badgeHistory,
  ensureWebBuilt,
  freePort,
  launchBrowser,
  recordBadges,
  screenshot,
} from '../support/browser.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually, rig, type RigEnv } from '../support/rig.js';
import { exited, spawnServe } from '../support/serve.js';
import { uniquify } from '../support/tosca.js';

const exec = promisify(execFile);
const PASSWORD = 'gui-test-password';
type Obj = Record<string, unknown>;

describe('web: the operator GUI in a browser', function () {
  this.timeout(180_000);
  const run = `g${String(process.pid)}`;
  const instance = `gui-${run}`;
  let env: RigEnv;
  let db: ScratchDb;
  let serve: ChildProcess | undefined;
  let serveLog = '';
  let base: string;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let dir: string;
  let recipe: string;
  /** Every URL the admin's pages asked for. */
  const requested: string[] = [];

  /** The gateway as a script would use it (the test's own reads and out-of-band edits). */
  let token = '';
  const api = async (method: string, path: string, body?: unknown, headers = {}) => {
    const res = await fetch(`${base}/api/v1/${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Obj;
    if (!res.ok)
      throw new Error(`${method} ${path}: ${String(res.status)} ${JSON.stringify(json)}`);
    return json;
  };
  const one = async (model: string, query: string) => {
    const list = await api('GET', `${model}?${query}`);
    const item = (list.items as Obj[])[0];
    if (!item) throw new Error(`no ${model} with ${query}`);
    return item;
  };

  const syncord = (args: string[], extra: Record<string, string> = {}) =>
    exec(process.execPath, ['--import', 'tsx', 'cli/syncord.ts', ...args], {
      env: { ...process.env, DATABASE_URL: db.url, ...extra },
    });

  const logIn = async (p: Page, user: string, password: string) => {
    await p.goto(`${base}/login`);
    await p.fill('#username', user);
    await p.fill('#password', password);
    await p.click('button[type="submit"]');
    await p.waitForSelector('[data-testid="whoami"]');
  };

  before(async function () {
    this.timeout(45 * 60_000);
    env = await rig();
    await ensureWebBuilt();
    db = await scratchDb();
    dir = mkdtempSync(join(tmpdir(), 'syncord-gui-'));
    recipe = join(dir, 'vsg-chain.yaml');
    writeFileSync(recipe, uniquify(readFileSync('examples/tosca/vsg-chain.yaml', 'utf8'), run));
    const port = await freePort();
    base = `http://127.0.0.1:${String(port)}`;
    serve = spawnServe(
      { DATABASE_URL: db.url, SYNCORD_INSTANCE: instance, SYNCORD_ADMIN_PASSWORD: PASSWORD },
      { args: ['--listen', `127.0.0.1:${String(port)}`, '--resync', '10'], stdio: 'pipe' },
    );
    serve.stdout?.on('data', (d: Buffer) => (serveLog += d.toString()));
    serve.stderr?.on('data', (d: Buffer) => (serveLog += d.toString()));
    await eventually(
      'syncord serve ready',
      async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined),
      60_000,
    );
    const login = await fetch(`${base}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    token = ((await login.json()) as Obj).token as string;
    await syncord(['user', 'create', 'watcher', '--role', 'viewer'], {
      SYNCORD_PASSWORD: PASSWORD,
    });
    browser = await launchBrowser(env.SYNCORD_CHROMIUM);
    admin = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    admin.on('request', (r) => requested.push(r.url()));
    page = await admin.newPage();
  });

  after(async function () {
    this.timeout(180_000);
    if (this.currentTest?.state === 'failed' || serveLog.includes('Error')) {
      process.stderr.write(`[test] last lines of syncord serve:\n${serveLog.slice(-4000)}\n`);
    }
    await browser.close().catch(() => undefined);
    // Take the chain down so that the rig keeps no pods of this run.
    if (token) {
      await api('POST', 'tosca/delete', {
        files: [{ name: 'vsg-chain.yaml', content: readFileSync(recipe, 'utf8') }],
      }).catch(() => undefined);
      await eventually(
        'the chain reaped',
        async () => {
          const r = await db.sql.query<{ n: string }>(
            `SELECT (SELECT count(*) FROM service_instance) + (SELECT count(*) FROM trust_domain) AS n`,
          );
          return r.rows[0]!.n === '0' ? true : undefined;
        },
        120_000,
      ).catch(() => undefined);
    }
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await exited(serve);
    }
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, and shows who is logged in with the role', async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/login$/);
    await screenshot(page, '01-login');
    await page.fill('#username', 'admin');
    await page.fill('#password', 'wrong password');
    await page.click('button[type="submit"]');
    await page.waitForSelector('text=/invalid|wrong|incorrect|denied/i');
    await logIn(page, 'admin', PASSWORD);
    expect(await page.textContent('[data-testid="whoami"]')).to.contain('admin (admin)');
  });

  it('loads the vSG chain recipe through the TOSCA page; the badges go from pending to ok', async () => {
    // A second tab keeps the instances' table open, recording every badge it shows.
    const table = await admin.newPage();
    await table.goto(`${base}/models/VSGServiceInstance`);
    await table.waitForSelector('[data-testid="total"]');
    await recordBadges(table);

    await page.goto(`${base}/tosca`);
    await page.setInputFiles('[data-testid="tosca-file"]', recipe);
    await page.click('[data-testid="tosca-validate"]');
    await page.waitForSelector('text=/valid/i');
    expect(await page.locator('[data-testid="tosca-problem"]').count()).to.equal(0);
    await page.click('[data-testid="tosca-dry-run"]');
    await page.waitForSelector('[data-testid="tosca-summary"]:has-text("17")');
    expect(await api('GET', 'TrustDomain')).to.have.nested.property('items.length', 0);
    await page.click('[data-testid="tosca-apply"]');
    await page.waitForSelector('[data-testid="tosca-summary"]:has-text("17 created")');
    expect(await page.locator('[data-testid="tosca-outcome"]').count()).to.equal(17);
    await screenshot(page, '02-tosca-applied');

    const ids = await eventually(
      'both vSG instances ok in the table',
      async () => {
        const badges = table.locator('[data-testid^="status-VSGServiceInstance-"]');
        const statuses: { id: string; status: string }[] = [];
        for (const b of await badges.all()) {
          statuses.push({
            id: (await b.getAttribute('data-testid')) ?? '',
            status: (await b.getAttribute('data-status')) ?? '',
          });
        }
        return statuses.length === 2 && statuses.every((x) => x.status === 'ok')
          ? statuses.map((x) => x.id)
          : undefined;
      },
      120_000,
    );
    for (const id of ids) {
      const seen = await badgeHistory(table, id);
      expect(seen, `${id} as the table showed it`).to.include('pending');
      expect(seen.indexOf('pending')).to.be.lessThan(seen.lastIndexOf('ok'));
      expect(seen[seen.length - 1]).to.equal('ok');
    }
    await screenshot(table, '03-table-live');
    await table.close();
  });

  it("refuses a Port's IP that another port holds, with the error beside the field", async () => {
    const vsg1 = await one('VSGServiceInstance', 'name=vsg-subscriber-1');
    const vsg2 = await one('VSGServiceInstance', 'name=vsg-subscriber-2');
    const mine = await one('Port', `service_instance_id=${String(vsg1.id)}`);
    const theirs = await one(
      'Port',
      `service_instance_id=${String(vsg2.id)}&network_id=${String(mine.network_id)}`,
    );
    await page.goto(`${base}/models/Port/${String(mine.id)}`);
    await page.click('[data-testid="edit"]');
    await page.fill('[name="ip"]', String(theirs.ip));
    await page.click('[data-testid="save"]');
    const error = page.locator('[data-testid="error-ip"]');
    await error.waitFor();
    expect(await error.textContent()).to.match(/taken|held by|holds|in use|already/i);
    await screenshot(page, '04-form-error');
    const after = await api('GET', `Port/${String(mine.id)}`);
    expect(after.ip, 'nothing written').to.equal(mine.ip);
  });

  it('tells an edit on a stale version so, with the new values', async () => {
    const fw = await one('VNFServiceInstance', 'name=fw-rcord-1');
    await page.goto(`${base}/models/VNFServiceInstance/${String(fw.id)}/edit`);
    await page.waitForSelector('[name="config"]');
    // Someone else edits it meanwhile.
    await api('PATCH', `VNFServiceInstance/${String(fw.id)}`, { config: { rules: 'changed' } });
    await page.fill('[name="config"]', '{"rules": "mine"}');
    await page.click('[data-testid="save"]');
    const conflict = page.locator('[data-testid="conflict"]');
    await conflict.waitFor();
    expect(await conflict.textContent()).to.contain('changed');
    await screenshot(page, '05-stale-edit');
    const now = await api('GET', `VNFServiceInstance/${String(fw.id)}`);
    expect(now.config).to.deep.equal({ rules: 'changed' });
  });

  it('shows a pod deleted out of band with kubectl going pending, and back to ok', async () => {
    const vsg = await one('VSGServiceInstance', 'name=vsg-subscriber-1');
    const testid = `status-VSGServiceInstance-${String(vsg.id)}`;
    await page.goto(`${base}/models/VSGServiceInstance/${String(vsg.id)}`);
    await page.waitForSelector(`[data-testid="${testid}"][data-status="ok"]`);
    await recordBadges(page);
    const selector = ownerSelector(instance, { model: 'VSGServiceInstance', id: vsg.id as number });
    const out = await exec(env.SYNCORD_KUBECTL, [
      '--kubeconfig',
      env.KUBECONFIG,
      'delete',
      'pods',
      '--all-namespaces',
      '-l',
      selector,
      '--wait=false',
    ]);
    expect(out.stdout).to.match(/deleted/);
    await eventually(
      'the badge pending, then ok again',
      async () => {
        const seen = await badgeHistory(page, testid);
        const p = seen.indexOf('pending');
        return p >= 0 && seen.lastIndexOf('ok') > p ? seen : undefined;
      },
      60_000,
    );
    // The status history says why.
    await page.reload();
    const entries = page.locator('[data-testid="history-entry"]');
    await entries.first().waitFor();
    const history = (await page.textContent('[data-testid="history"]')) ?? '';
    const api_history = await api('GET', `VSGServiceInstance/${String(vsg.id)}/history`);
    expect(history, JSON.stringify(api_history).slice(0, 1500)).to.match(/deleted out of band/);
    expect(await page.locator('[data-testid="backend-objects"]').textContent()).to.contain('Pod');
    await screenshot(page, '06-object-page');
  });

  it('draws the service graph with each node coloured by its status', async () => {
    const vsg = await one('VSGServiceInstance', 'name=vsg-subscriber-2');
    await page.goto(`${base}/graph`);
    const node = page.locator(`[data-testid="graph-node-VSGServiceInstance-${String(vsg.id)}"]`);
    await node.waitFor();
    expect(await node.getAttribute('data-status')).to.equal('ok');
    expect(await page.locator('[data-testid^="graph-node-Network-"]').count()).to.be.greaterThan(1);
    await screenshot(page, '07-graph');
  });

  it('counts objects by status on the dashboard, with the queue depth', async () => {
    await page.goto(`${base}/`);
    const row = page.locator('[data-testid="stats-Port"]');
    await row.waitFor();
    // Each status cell holds what the API counts for that status (the chain is settled).
    for (const status of ['ok', 'pending', 'error'] as const) {
      const counted = await api('GET', `Port?status=${status}&page_size=1`);
      const cell = row.locator(`td[data-status="${status}"]`);
      await eventually(`the ${status} cell`, async () =>
        (await cell.textContent())?.trim() === String(counted.total_size) ? true : undefined,
      );
    }
    expect(Number((await row.locator('td[data-status="ok"]').textContent())?.trim())).to.be.above(
      0,
    );
    await page.waitForSelector('[data-testid="queue-depth"]');
    await screenshot(page, '08-dashboard');
  });

  it('pages, sorts and filters a table of 10,000 objects on the server', async () => {
    const names = Array.from({ length: 10_000 }, (_, i) => ({
      name: `site-${String(i).padStart(5, '0')}`,
    }));
    for (let i = 0; i < names.length; i += 2000) {
      await db.service.createMany('Site', names.slice(i, i + 2000));
    }
    const total = 10_000 + 1; // and the recipe's own site
    await page.goto(`${base}/models/Site`);
    const count = page.locator('[data-testid="total"]');
    await page.waitForSelector(
      `[data-testid="total"]:has-text("of ${total.toLocaleString('en-US')}")`,
    );
    expect(await count.textContent()).to.match(/^1–\d+ of 10,001$/);
    const rows = page.locator('tr[data-testid^="row-Site-"]');
    const perPage = await rows.count();
    expect(perPage).to.be.within(50, 500);
    await page.click('[data-testid="next-page"]');
    await page.waitForSelector(
      `[data-testid="total"]:has-text("${String(perPage + 1)}–${String(2 * perPage)} of")`,
    );
    // Sorted by name, descending: the last site first.
    await page.click('th[data-field="name"] .sort');
    await page.waitForSelector('th[data-field="name"][aria-sort="ascending"]');
    await page.click('th[data-field="name"] .sort');
    await page.waitForSelector('th[data-field="name"][aria-sort="descending"]');
    await page.waitForSelector('tr[data-testid^="row-Site-"]:first-child:has-text("site-09999")');
    await page.fill('[data-testid="filter"]', 'site-0123');
    await page.keyboard.press('Enter');
    // The whole text: "of 10" alone is also in "of 10,001", the count before the filter applies.
    await page.waitForSelector('[data-testid="total"]:text-matches("^1–10 of 10$")');
    expect(await rows.count()).to.equal(10);
    await screenshot(page, '10-table-10k');
  });

  it('loads everything from syncord serve itself (nothing from the network)', () => {
    expect(requested.length).to.be.greaterThan(10);
    const outside = requested.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'));
    expect(outside).to.deep.equal([]);
  });

  it('offers a viewer no create, edit or delete buttons', async () => {
    const viewer = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const p = await viewer.newPage();
    await logIn(p, 'watcher', PASSWORD);
    expect(await p.textContent('[data-testid="whoami"]')).to.contain('watcher (viewer)');
    const port = await one('Port', 'page_size=1');
    await p.goto(`${base}/models/Port`);
    await p.waitForSelector(`[data-testid="row-Port-${String(port.id)}"]`);
    expect(await p.locator('[data-testid="create"]').count()).to.equal(0);
    await p.goto(`${base}/models/Port/${String(port.id)}`);
    await p.waitForSelector('[data-testid="fields"]');
    expect(await p.locator('[data-testid="edit"]').count()).to.equal(0);
    expect(await p.locator('[data-testid="delete"]').count()).to.equal(0);
    await p.goto(`${base}/tosca`);
    expect(await p.locator('[data-testid="tosca-apply"]').count()).to.equal(0);
    await screenshot(p, '09-viewer');
    await viewer.close();
  });
});
