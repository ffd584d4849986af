// The GUI's Adopt page (/adopt) in a real browser (Debian's Chromium, headless, through
// playwright-core) against an in-process `serve()` with an in-memory adopt source and no steps,
// on a scratch database: an admin lists the candidates (a Network and two Ports referring to it,
// one Port with a problem, one Port whose address another Port holds; a second source failing
// shown as a warning), adopts two and follows a link to the object's page ("Adopted from", the
// policies; the form offers the policies as selects); a refused adoption names the holder and
// creates nothing; a viewer and an operator of one trust domain cannot adopt. Also the page's
// pure helpers (web/src/adopt.ts). Screenshots go to test/web/screenshots/.
import { expect } from 'chai';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { ModelObject } from '../../models/service.js';
import type { AdoptCandidate, AdoptSource } from '../../synchronizer/adopt.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import {
  adoptableQuery,
  adoptBody,
  confirmText,
  handleText,
  mayAdopt,
  missingRefs,
  NO_FILTER,
  normalizeCandidate,
  refusedKey,
  toggle,
} from '../../web/src/adopt.js';
import { ensureWebBuilt, launchBrowser, screenshot } from '../support/browser.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { rig } from '../support/rig.js';
import { usersWithRoles } from '../support/tenants.js';

const PASSWORD = 'adopt-test-password';
type Obj = Record<string, unknown>;

describe('web: adopting backend objects in a browser', function () {
  this.timeout(180_000);
  let db: ScratchDb;
  let server: Server;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let si: ModelObject;
  let blue: ModelObject;
  let holder: ModelObject;
  let token = '';
  /** Every list of the fake source, by filter (to see that the page sent the filter). */
  const discovered: string[] = [];

  const api = async (method: string, path: string, body?: unknown, bearer = token) => {
    const res = await fetch(`${server.url}/api/v1/${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Obj };
  };
  const loginToken = async (username: string) => {
    const r = await api('POST', 'login', { username, password: PASSWORD }, '');
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body.token as string;
  };
  const logIn = async (p: Page, user: string) => {
    await p.goto(`${server.url}/login`);
    await p.fill('#username', user);
    await p.fill('#password', PASSWORD);
    await p.click('button[type="submit"]');
    await p.waitForSelector('[data-testid="whoami"]');
  };
  const count = async (model: string, query = '') => {
    const r = await api('GET', `${model}?page_size=1${query}`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body.total_size as number;
  };

  /** The fake backend: a switch and three ports that carry no owner mark. */
  const candidates = (): AdoptCandidate[] => [
    {
      key: 'fake/Switch/ls-red',
      backend: 'fake',
      kind: 'Switch',
      name: 'ls-red',
      detail: 'subnet 10.70.0.0/24',
      model: 'Network',
      values: { name: 'red', subnet: '10.70.0.0/24' },
      handle: { 'fake/Switch': 'ls-red' },
    },
    {
      key: 'fake/Lsp/red-1',
      backend: 'fake',
      kind: 'Lsp',
      name: 'red-1',
      namespace: 'tenant-a',
      cluster: 'east',
      detail: '10.70.0.5 on ls-red',
      model: 'Port',
      values: {
        name: 'red-1',
        ip: '10.70.0.5',
        interface_name: 'net1',
        service_instance_id: si.id,
      },
      refs: { network_id: 'fake/Switch/ls-red' },
      handle: { 'fake/Lsp': 'red-1' },
    },
    {
      key: 'fake/Lsp/red-2',
      backend: 'fake',
      kind: 'Lsp',
      name: 'red-2',
      detail: 'no address, on ls-red',
      model: 'Port',
      values: { name: 'red-2', interface_name: 'net2', service_instance_id: si.id },
      refs: { network_id: 'fake/Switch/ls-red' },
      handle: { 'fake/Lsp': 'red-2' },
      problem: 'no pod owns it: its service instance cannot be told',
    },
    {
      key: 'fake/Lsp/intruder',
      backend: 'fake',
      kind: 'Lsp',
      name: 'intruder',
      detail: '10.72.0.9 on blue',
      model: 'Port',
      values: {
        name: 'intruder',
        ip: '10.72.0.9',
        interface_name: 'net3',
        network_id: blue.id,
        service_instance_id: si.id,
      },
      handle: { 'fake/Lsp': 'intruder' },
    },
  ];
  const source: AdoptSource = {
    backend: 'fake',
    discover: async (_models, filter) => {
      discovered.push(JSON.stringify(filter));
      const out: AdoptCandidate[] = [];
      for (const c of candidates()) {
        if (filter.kinds?.length && !filter.kinds.includes(c.kind)) continue;
        // Adopted already: the real sources see the owner mark; here, the model's handle.
        const table = c.model === 'Network' ? 'network' : 'port';
        const [[k, v]] = Object.entries(c.handle) as [[string, string]];
        const r = await db.sql.query(
          `SELECT 1 FROM ${table} WHERE backend_handle ->> $1 = $2 LIMIT 1`,
          [k, v],
        );
        if (!r.rowCount) out.push(c);
      }
      return out;
    },
  };
  const broken: AdoptSource = {
    backend: 'broken',
    discover: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6641')),
  };

  before(async function () {
    this.timeout(45 * 60_000);
    const env = await rig();
    await ensureWebBuilt();
    db = await scratchDb();
    const svc = db.service;
    const owner = await svc.create('Service', { name: 'owner' });
    si = await svc.create('ServiceInstance', { name: 'si', owner_id: owner.id });
    blue = await svc.create('Network', { name: 'blue', subnet: '10.72.0.0/24' });
    holder = await svc.create('Port', {
      name: 'holder',
      network_id: blue.id,
      service_instance_id: si.id,
      interface_name: 'eth0',
      ip: '10.72.0.9',
    });
    const td = await svc.create('TrustDomain', { name: 'td-a', owner_id: owner.id });
    await usersWithRoles(
      svc,
      [
        ['admin', 'admin', undefined],
        ['watcher', 'viewer', undefined],
        ['op-a', 'operator', td.id],
      ],
      PASSWORD,
    );
    server = await serve({
      registry: db.registry,
      steps: [],
      databaseUrl: db.url,
      port: 0,
      api: { host: '127.0.0.1', port: 0 },
      sync: false,
      sources: [source, broken],
      log: () => undefined,
    });
    token = await loginToken('admin');
    browser = await launchBrowser(env.SYNCORD_CHROMIUM);
    admin = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await admin.newPage();
  });

  after(async function () {
    this.timeout(60_000);
    await browser.close().catch(() => undefined);
    await server.stop();
    await db.drop();
  });

  /** An attribute of every element a locator finds, in order. */
  const attrs = async (l: Locator, name: string) =>
    Promise.all((await l.all()).map((e) => e.getAttribute(name)));
  const row = (p: Page, key: string) => p.locator(`[data-testid="adopt-row"][data-key="${key}"]`);
  const check = (p: Page, key: string) => row(p, key).locator('[data-testid="adopt-check"]');

  it('lists the candidates with what they would become, the problem, and the backend that failed', async () => {
    await logIn(page, 'admin');
    await page.click('nav >> text=Adopt');
    await page.waitForURL(/\/adopt$/);
    await page.click('[data-testid="adopt-list"]');
    await page.waitForSelector('[data-testid="adopt-row"]');
    const keys = await attrs(page.locator('[data-testid="adopt-row"]'), 'data-key');
    expect(keys).to.deep.equal([
      'fake/Switch/ls-red',
      'fake/Lsp/red-1',
      'fake/Lsp/red-2',
      'fake/Lsp/intruder',
    ]);
    const red1 = await row(page, 'fake/Lsp/red-1').innerText();
    expect(red1).to.contain('Port red-1').and.contain('network_id → fake/Switch/ls-red');
    expect(red1).to.contain('tenant-a @ east').and.contain('10.70.0.5 on ls-red');
    expect(await row(page, 'fake/Switch/ls-red').innerText()).to.contain('Network red');

    // The one with a problem: shown, and it cannot be ticked.
    expect(await check(page, 'fake/Lsp/red-2').isDisabled()).to.equal(true);
    expect(await check(page, 'fake/Lsp/red-1').isDisabled()).to.equal(false);
    expect(
      await row(page, 'fake/Lsp/red-2').locator('[data-testid="adopt-problem"]').innerText(),
    ).to.equal('no pod owns it: its service instance cannot be told');
    expect(await page.locator('[data-testid="adopt-problem"]').count()).to.equal(1);

    const failures = await page.locator('[data-testid="adopt-failure"]').allInnerTexts();
    expect(failures).to.deep.equal(['Could not list broken: connect ECONNREFUSED 127.0.0.1:6641']);

    // The policies: full and delete unless chosen otherwise, each said what it means.
    expect(await page.inputValue('[data-testid="adopt-management"]')).to.equal('full');
    expect(await page.inputValue('[data-testid="adopt-deletion"]')).to.equal('delete');
    expect(await page.innerText('[data-testid="adopt-deletion-meaning"]')).to.equal(
      'Deleting the object tears its backend objects down.',
    );
    expect(await page.isDisabled('[data-testid="adopt-submit"]')).to.equal(true);
    await screenshot(page, '20-adopt-candidates');
  });

  it('adopts two (a Port and the Network it refers to), linked to their pages; the page shows what it was adopted from and the policies', async () => {
    const ports = await count('Port');
    const networks = await count('Network');
    // Filtered to the fake backend's kinds: the page sends the filter with the adoption.
    await page.fill('[data-testid="adopt-backends"]', 'fake');
    await page.fill('[data-testid="adopt-kinds"]', 'Switch, Lsp');
    await page.click('[data-testid="adopt-list"]');
    await page.waitForFunction(
      `document.querySelectorAll('[data-testid="adopt-failure"]').length === 0`,
    );
    expect(discovered[discovered.length - 1]).to.equal('{"kinds":["Switch","Lsp"]}');

    // Ticking the Port ticks the Network it refers to.
    await check(page, 'fake/Lsp/red-1').check();
    expect(await check(page, 'fake/Switch/ls-red').isChecked()).to.equal(true);
    expect(await check(page, 'fake/Lsp/intruder').isChecked()).to.equal(false);
    await page.selectOption('[data-testid="adopt-deletion"]', 'orphan');
    expect(await page.innerText('[data-testid="adopt-deletion-meaning"]')).to.contain(
      'leaves them running',
    );
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.click('[data-testid="adopt-submit"]');
    await page.waitForSelector('[data-testid="adopt-result"]');
    expect(asked).to.equal(
      "Adopt 2 objects? The models are created in one transaction; the synchronizer then adds Syncord's owner marks and changes nothing else.",
    );
    const links = page.locator('[data-testid="adopted-link"]');
    expect(await links.count()).to.equal(2);
    const hrefs = await attrs(links, 'href');
    expect(await count('Port')).to.equal(ports + 1);
    expect(await count('Network')).to.equal(networks + 1);
    const port = ((await api('GET', 'Port?name=red-1')).body.items as Obj[])[0]!;
    const net = ((await api('GET', 'Network?name=red')).body.items as Obj[])[0]!;
    expect(port).to.include({ network_id: net.id, ip: '10.70.0.5', deletion_policy: 'orphan' });
    expect(port.backend_handle).to.deep.equal({ 'fake/Lsp': 'red-1' });
    expect(hrefs.sort()).to.deep.equal(
      [`/models/Network/${String(net.id)}`, `/models/Port/${String(port.id)}`].sort(),
    );
    // Listed again: what was adopted is no longer a candidate.
    await page.waitForFunction(
      `!document.querySelector('[data-testid="adopt-row"][data-key="fake/Lsp/red-1"]')`,
    );
    expect(await row(page, 'fake/Lsp/intruder').count()).to.equal(1);
    await screenshot(page, '21-adopt-adopted');

    await page.click(`[data-testid="adopted-link"][href="/models/Port/${String(port.id)}"]`);
    await page.waitForURL(new RegExp(`/models/Port/${String(port.id)}$`));
    const from = page.locator('[data-testid="adopted-from"]');
    await from.waitFor();
    expect(await from.innerText()).to.equal('Adopted from: fake/Lsp red-1');
    expect(await page.getAttribute('[data-testid="management_policy"]', 'data-value')).to.equal(
      'full',
    );
    expect(await page.getAttribute('[data-testid="deletion_policy"]', 'data-value')).to.equal(
      'orphan',
    );
    expect(await page.innerText('[data-testid="deletion_policy"]')).to.equal(
      'deletion policy: orphan',
    );
    await screenshot(page, '22-adopted-object');

    // The form offers the policies as selects with their choices.
    await page.click('[data-testid="edit"]');
    const management = page.locator('select[name="management_policy"]');
    await management.waitFor({ state: 'attached' });
    const options = async (sel: string) =>
      (await attrs(page.locator(`select[name="${sel}"] option`), 'value')).filter(Boolean);
    expect(await options('management_policy')).to.deep.equal(['full', 'observe', 'create-only']);
    expect(await options('deletion_policy')).to.deep.equal(['delete', 'orphan']);
    expect(await management.inputValue()).to.equal('full');
    expect(await page.inputValue('select[name="deletion_policy"]')).to.equal('orphan');

    // A Network not adopted shows its policies and no "Adopted from".
    await page.goto(`${server.url}/models/Network/${String(blue.id)}`);
    await page.waitForSelector('[data-testid="management_policy"]');
    expect(await page.locator('[data-testid="adopted-from"]').count()).to.equal(0);
  });

  it('shows a refused adoption (an address another Port holds) naming the holder, and creates nothing', async () => {
    const ports = await count('Port');
    await page.goto(`${server.url}/adopt`);
    await page.click('[data-testid="adopt-list"]');
    await check(page, 'fake/Lsp/intruder').check();
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-testid="adopt-submit"]');
    const refusal = page.locator('[data-testid="adopt-refusal"]');
    await refusal.waitFor();
    const text = await refusal.innerText();
    expect(text).to.contain('Refused: nothing was adopted.');
    expect(text).to.contain(
      `fake/Lsp/intruder: as Port: ip: 10.72.0.9 is held by Port ${String(holder.id)}`,
    );
    expect(text).to.contain('FAILED_PRECONDITION');
    expect(await page.locator('[data-testid="adopted-link"]').count()).to.equal(0);
    expect(await row(page, 'fake/Lsp/intruder').getAttribute('class')).to.contain('refused');
    await screenshot(page, '23-adopt-refused');
    expect(await count('Port')).to.equal(ports);
    expect(await count('Port', '&name=intruder')).to.equal(0);
  });

  it('lets neither a viewer nor an operator of one trust domain adopt', async () => {
    for (const user of ['watcher', 'op-a']) {
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 700 } });
      const p = await ctx.newPage();
      await logIn(p, user);
      expect(await p.locator('nav >> text=TOSCA').count()).to.equal(1);
      expect(await p.locator('nav >> text=Adopt').count(), user).to.equal(0);
      await p.goto(`${server.url}/adopt`);
      const why = p.locator('[data-testid="adopt-not-allowed"]');
      await why.waitFor();
      expect(await why.innerText()).to.contain(
        'only an admin or an operator of every trust domain',
      );
      expect(await p.locator('[data-testid="adopt-list"]').count()).to.equal(0);
      if (user === 'watcher') await screenshot(p, '24-adopt-viewer');
      await ctx.close();
      const r = await api('POST', 'adopt', { keys: ['fake/Lsp/intruder'] }, await loginToken(user));
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('PERMISSION_DENIED');
    }
  });
});

describe('web: the Adopt page helpers', () => {
  const c = (key: string, extra: Partial<AdoptCandidate> = {}) =>
    normalizeCandidate({ key, backend: 'ovn', kind: 'Logical_Switch_Port', name: key, ...extra });
  const net = c('ovn/Logical_Switch/ls1', { kind: 'Logical_Switch' });
  const lsp1 = c('ovn/Logical_Switch_Port/lsp1', { refs: { network_id: net.key } });
  const vm = c('openstack/Server/vm', { refs: { port_id: lsp1.key } });
  const bad = c('ovn/Logical_Switch_Port/lsp2', {
    refs: { network_id: net.key },
    problem: 'no service instance',
  });
  const all = [net, lsp1, vm, bad];

  it('ticks what a candidate refers to, transitively; never one with a problem', () => {
    expect([...toggle(all, new Set(), vm.key, true)].sort()).to.deep.equal(
      [net.key, lsp1.key, vm.key].sort(),
    );
    expect([...toggle(all, new Set(), bad.key, true)]).to.deep.equal([]);
    expect([...toggle(all, new Set([net.key, lsp1.key]), net.key, false)]).to.deep.equal([
      lsp1.key,
    ]);
    expect(missingRefs(all, new Set([lsp1.key]))).to.deep.equal([`${lsp1.key} needs ${net.key}`]);
    expect(missingRefs(all, new Set([lsp1.key, net.key]))).to.deep.equal([]);
  });

  it("ticks a pod's interfaces with the pod, and says a pod chosen alone needs them", () => {
    const pod = c('kubernetes/Pod/ns/web', { together: ['kubernetes/Interface/ns/web/net1'] });
    const iface = c('kubernetes/Interface/ns/web/net1', {
      refs: { service_instance_id: pod.key, network_id: net.key },
      together: [pod.key],
    });
    const site = [net, pod, iface];
    expect([...toggle(site, new Set(), pod.key, true)].sort()).to.deep.equal(
      [net.key, pod.key, iface.key].sort(),
    );
    expect(missingRefs(site, new Set([pod.key]))).to.deep.equal([`${pod.key} needs ${iface.key}`]);
  });

  it('builds the list query and the adoption body from the filter; never adopts "everything"', () => {
    expect(adoptableQuery(NO_FILTER)).to.equal('');
    const f = {
      backends: ' ovn, kubernetes ,',
      kinds: 'Pod',
      namespace: ' ns ',
      selector: 'app=web',
      instance: 'si-1 ',
      service: '',
    };
    expect(adoptableQuery(f)).to.equal(
      'backends=ovn%2Ckubernetes&kinds=Pod&namespace=ns&selector=app%3Dweb&instance=si-1',
    );
    expect(adoptBody(f, ['k1'], 'observe', 'orphan')).to.deep.equal({
      keys: ['k1'],
      management_policy: 'observe',
      deletion_policy: 'orphan',
      backends: ['ovn', 'kubernetes'],
      kinds: ['Pod'],
      namespace: 'ns',
      selector: 'app=web',
      instance: 'si-1',
      service: '',
    });
    expect(() => adoptBody(f, [], 'full', 'delete')).to.throw(/nothing chosen/);
  });

  it('words the handle, the confirmation and who may adopt; finds the candidate a refusal names', () => {
    expect(handleText({ 'ovn/Logical_Switch': 'ls1', 'kubernetes/Pod': 'ns/web-1' })).to.equal(
      'ovn/Logical_Switch ls1, kubernetes/Pod ns/web-1',
    );
    expect(handleText(null)).to.equal('');
    expect(handleText([])).to.equal('');
    expect(confirmText(1)).to.match(/^Adopt 1 object\? The models are created in one transaction/);
    expect(confirmText(3)).to.match(/^Adopt 3 objects\?/);
    expect(mayAdopt({ role: 'admin', trust_domain_id: 4 })).to.equal(true);
    expect(mayAdopt({ role: 'operator' })).to.equal(true);
    expect(mayAdopt({ role: 'operator', trust_domain_id: 0 })).to.equal(true);
    expect(mayAdopt({ role: 'operator', trust_domain_id: 4 })).to.equal(false);
    expect(mayAdopt({ role: 'viewer' })).to.equal(false);
    expect(
      refusedKey(
        `${lsp1.key}: as Port: ip: 10.0.0.5 is held by Port 12 (...) on Network blue`,
        all,
      ),
    ).to.equal(lsp1.key);
    expect(refusedKey('keys: something else', all)).to.equal('');
  });
});
