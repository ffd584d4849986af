// Monitoring as an operator sets it up: the metrics a real `syncord serve` exports (the age of
// the oldest error per model, the build, HELP and TYPE for each, `promtool check metrics`), the
// Prometheus rules (deploy/helm/syncord/files/prometheus-rules.yaml: `promtool check rules`, and
// `promtool test rules` of deploy/monitoring/alerts.test.yaml) and the Grafana dashboard
// (deploy/helm/syncord/files/grafana-dashboard.json): every metric the rules and the panels name
// is in the scrape, so that renaming a metric breaks this test, and the panels' PromQL parses.
// promtool is the one the rig builds ($SYNCORD_PROMTOOL); without it, only its checks are skipped.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import type { SyncStep } from '../../synchronizer/engine.js';
import { serve, type Server } from '../../synchronizer/serve.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';
import { runCommand } from '../support/run.js';

const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const RULES = file('deploy/helm/syncord/files/prometheus-rules.yaml');
const RULES_TEST = file('deploy/monitoring/alerts.test.yaml');
const DASHBOARD = file('deploy/helm/syncord/files/grafana-dashboard.json');

/** A scrape in the text format: the samples' names, and each family's HELP and TYPE. */
interface Scrape {
  text: string;
  samples: Set<string>;
  help: Map<string, string>;
  type: Map<string, string>;
  /** The value of the one sample with exactly these labels (as written), if there is one. */
  value(name: string, labels?: string): number | undefined;
}

function parseScrape(text: string): Scrape {
  const samples = new Set<string>();
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
    else if (line && !line.startsWith('#')) samples.add(/^[^{ ]+/.exec(line)![0]);
  }
  return {
    text,
    samples,
    help,
    type,
    value(name, labels) {
      const prefix = labels === undefined ? `${name} ` : `${name}{${labels}} `;
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      return line === undefined ? undefined : Number(line.slice(prefix.length));
    },
  };
}

/** The family a sample belongs to (a histogram's _bucket, _sum and _count are its family's). */
function family(sample: string, scrape: Scrape): string {
  if (scrape.type.has(sample)) return sample;
  const base = sample.replace(/_(bucket|sum|count)$/, '');
  return scrape.type.get(base) === 'histogram' ? base : sample;
}

/** The metric names a PromQL expression uses: Syncord's (syncord_...) and recorded ones (a:b). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\[[^\]]*\]/g, '') // ranges: [10m], [$__rate_interval]
    .replace(/\$\w+/g, ''); // Grafana variables
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (m[0].startsWith('syncord_') || m[0].includes(':')) names.add(m[0]);
  }
  return [...names];
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

/** Every panel's queries, rows' panels included. */
function panelExprs(panels: readonly Panel[]): { title: string; expr: string }[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).flatMap((t) =>
      t.expr ? [{ title: p.title ?? p.type, expr: t.expr }] : [],
    ),
    ...panelExprs(p.panels ?? []),
  ]);
}

/** A panel's query as Prometheus would get it: Grafana's variables replaced by values. */
const asPromQL = (expr: string) =>
  expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(namespace|job)\}?/g, '.*');

describe('deploy: Prometheus metrics, rules and the Grafana dashboard', function () {
  this.timeout(240_000);
  let db: ScratchDb;
  let server: Server;
  let scrape: Scrape;
  let work: string;
  const broken = new Set(['broken-site']);
  const step: SyncStep = {
    name: 'memory/site',
    observes: 'Site',
    sync: (o) =>
      broken.has(String(o.name))
        ? Promise.reject(new Error(`site ${String(o.name)} refused`))
        : Promise.resolve(`noted ${String(o.name)}`),
    delete: () => Promise.resolve(undefined),
  };
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const promtool = (): string | undefined => {
    const bin = process.env.SYNCORD_PROMTOOL;
    return bin && existsSync(bin) ? bin : undefined;
  };
  const needPromtool = (ctx: Mocha.Context): string => {
    const bin = promtool();
    if (!bin) {
      console.log(
        `      skipped: promtool is not built (SYNCORD_PROMTOOL=${process.env.SYNCORD_PROMTOOL ?? 'unset'}); run rig/rig up, or eval "$(rig/rig env)"`,
      );
      ctx.skip();
    }
    return bin;
  };
  let badId = 0;
  const metrics = async () => parseScrape(await (await fetch(`${server.url}/metrics`)).text());

  before(async function () {
    this.timeout(45 * 60_000);
    work = mkdtempSync(join(tmpdir(), 'syncord-monitoring-'));
    // The rig's PostgreSQL (DATABASE_URL from `rig/rig env`, else the rig is found or started).
    db = await scratchDb(process.env.DATABASE_URL);
    server = await serve({
      registry: db.registry,
      steps: [step],
      databaseUrl: db.url,
      port: 0,
      api: false,
      log: () => undefined,
    });
    const s = server;
    await eventually('leading', () => Promise.resolve(s.engine() ? true : undefined));
    const ok = await db.service.create('Site', { name: 'ok-site' });
    const bad = await db.service.create('Site', { name: 'broken-site' });
    badId = bad.id;
    await eventually('ok-site synced and broken-site in error', async () =>
      (await db.service.get('Site', ok.id)).backend_code === 1 &&
      (await db.service.get('Site', bad.id)).backend_code === 2
        ? true
        : undefined,
    );
    // The objects' gauges are read from the database at most every 10 s.
    scrape = await eventually(
      'a scrape with Site in error',
      async () => {
        const m = await metrics();
        return m.value('syncord_objects', 'model="Site",backend_code="2"') === 1 ? m : undefined;
      },
      20_000,
    );
  });

  after(async () => {
    await server.stop();
    await db.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('exports the age of the oldest error per model, from when the error began', async () => {
    // The run of errors began at the status history's first entry in error.
    const began = await db.sql.query<{ at: Date }>(
      `SELECT min(at) AS at FROM syncord_status_history
        WHERE model_table = 'site' AND object_id = $1 AND backend_code = 2`,
      [badId],
    );
    const start = began.rows[0]!.at.getTime();
    // The value a scrape shows is read from the database at most every 10 s: the first scrape
    // showing a new value read it while it ran, which dates the value to within that scrape.
    // Wait for one that old enough for several failed retries (backoff about 1 s, 2 s, 4 s, 8 s):
    // an age counted from the latest retry would be short of the time since the first failure
    // by the sum of the earlier delays, several seconds.
    let previous: number | undefined;
    const { age, from, to } = await eventually(
      'a freshly read error age of 15 s',
      async () => {
        const from = Date.now();
        const v = (await metrics()).value('syncord_objects_error_oldest_seconds', 'model="Site"');
        const to = Date.now();
        const fresh = previous !== undefined && v !== previous;
        previous = v;
        return fresh && v !== undefined && v >= 15 ? { age: v, from, to } : undefined;
      },
      60_000,
    );
    expect(age).to.be.within((from - start) / 1000 - 0.5, (to - start) / 1000 + 0.5);
    expect((await db.service.get('Site', badId)).failures).to.be.at.least(3);
    expect(scrape.value('syncord_objects_error_oldest_seconds', 'model="Site"')).to.be.a('number');

    // Fixed (and edited, which retries it at once), it is no longer in error: 0.
    broken.clear();
    await db.service.update('Site', badId, { name: 'fixed-site' });
    await eventually(
      'the error age back to 0',
      async () => {
        const m = await metrics();
        return m.value('syncord_objects_error_oldest_seconds', 'model="Site"') === 0
          ? true
          : undefined;
      },
      20_000,
    );
  });

  it('exports the build, and a HELP and a TYPE for every metric', () => {
    const version = (JSON.parse(readFileSync(file('package.json'), 'utf8')) as { version: string })
      .version;
    expect(scrape.value('syncord_build_info', `version="${version}"`)).to.equal(1);
    const families = new Set([...scrape.samples].map((s) => family(s, scrape)));
    for (const name of [
      'syncord_build_info',
      'syncord_queue_depth',
      'syncord_queue_delayed',
      'syncord_queue_in_flight',
      'syncord_reconcile_total',
      'syncord_reconcile_duration_seconds',
      'syncord_leader',
      'syncord_objects',
      'syncord_objects_error_oldest_seconds',
    ]) {
      expect(families, name).to.include(name);
    }
    for (const name of families) {
      expect(name).to.match(/^syncord_/);
      expect(scrape.help.get(name), `HELP of ${name}`).to.be.a('string').and.not.equal('');
      expect(scrape.type.get(name), `TYPE of ${name}`).to.be.oneOf([
        'counter',
        'gauge',
        'histogram',
        'summary',
      ]);
    }
  });

  it("promtool check metrics finds nothing wrong with Syncord's own metrics", async function () {
    const bin = needPromtool(this);
    const r = await runCommand(bin, ['check', 'metrics'], { input: scrape.text });
    // prom-client's default metrics (syncord_process_*) are not ours to rename.
    const problems = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^syncord_process_/.test(l.trim()));
    expect(problems, `${r.stdout}${r.stderr}`).to.deep.equal([]);
  });

  it('promtool check rules accepts the rule file', async function () {
    const bin = needPromtool(this);
    const r = await runCommand(bin, ['check', 'rules', RULES]);
    expect(r.code, `${r.stdout}${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/SUCCESS: 6 rules found/);
  });

  it('promtool test rules: each alert fires when it should and not in its near miss', async function () {
    const bin = needPromtool(this);
    const r = await runCommand(bin, ['test', 'rules', RULES_TEST]);
    expect(r.code, `${r.stdout}${r.stderr}`).to.equal(0);
    const tested = parse(readFileSync(RULES_TEST, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const cases = tested.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of rules.groups.flatMap((g) => g.rules)) {
      if (!alert) continue;
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} fires in a test`,
      ).to.equal(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} stays quiet in a test`,
      ).to.equal(true);
    }
  });

  it('every alert has a for, a severity, a summary, a description and a runbook', () => {
    const readme = readFileSync(file('deploy/monitoring/README.md'), 'utf8');
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.map((a) => a.alert)).to.have.members([
      'SyncordObjectsInError',
      'SyncordQueueGrowing',
      'SyncordNoLeader',
      'SyncordReconcileErrorsHigh',
      'SyncordDown',
    ]);
    for (const a of alerts as {
      alert: string;
      for?: string;
      labels?: { severity?: string };
      annotations?: Record<string, string>;
    }[]) {
      expect(a.for, a.alert).to.match(/^\d+m$/);
      expect(a.labels?.severity, a.alert).to.be.oneOf(['warning', 'critical']);
      expect(a.annotations?.summary, a.alert).to.be.a('string');
      expect(a.annotations?.description, a.alert).to.be.a('string');
      const anchor = a.alert.toLowerCase();
      expect(a.annotations?.runbook_url).to.equal(`deploy/monitoring/README.md#${anchor}`);
      expect(readme, `README section ${a.alert}`).to.match(new RegExp(`^### ${a.alert}$`, 'm'));
    }
  });

  it('every metric the rules use is in a scrape', () => {
    const recorded = new Set(rules.groups.flatMap((g) => g.rules).flatMap((r) => r.record ?? []));
    const used = rules.groups.flatMap((g) => g.rules).flatMap((r) => metricNames(r.expr));
    expect(used).to.include('syncord_objects_error_oldest_seconds');
    for (const name of used) {
      if (name.includes(':')) expect(recorded, `recorded ${name}`).to.include(name);
      else expect(scrape.samples, `${name} in the scrape`).to.include(name);
    }
  });

  it("the dashboard's panels use only metrics in a scrape", () => {
    expect(dashboard.schemaVersion).to.be.within(36, 41);
    const vars = dashboard.templating.list;
    expect(vars.find((v) => v.name === 'datasource')).to.include({
      type: 'datasource',
      query: 'prometheus',
    });
    expect(vars.map((v) => v.name)).to.include.members(['namespace', 'job']);
    const exprs = panelExprs(dashboard.panels);
    expect(exprs.length).to.be.at.least(10);
    const used = new Set<string>();
    for (const { title, expr } of exprs) {
      const names = metricNames(expr);
      expect(names, `${title}: ${expr}`).to.not.be.empty;
      for (const name of names) {
        expect(scrape.samples, `${title}: ${name} in the scrape`).to.include(name);
        used.add(name);
      }
    }
    // What the dashboard must show.
    for (const name of [
      'syncord_leader',
      'syncord_queue_depth',
      'syncord_queue_delayed',
      'syncord_queue_in_flight',
      'syncord_reconcile_total',
      'syncord_reconcile_duration_seconds_bucket',
      'syncord_objects',
      'syncord_objects_error_oldest_seconds',
      'syncord_process_process_resident_memory_bytes',
      'syncord_process_process_cpu_seconds_total',
      'syncord_process_nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(used, name).to.include(name);
    }
  });

  it("the dashboard's queries parse as PromQL (promtool check rules)", async function () {
    const bin = needPromtool(this);
    const exprs = panelExprs(dashboard.panels);
    const path = join(work, 'dashboard-rules.yaml');
    writeFileSync(
      path,
      stringify({
        groups: [
          {
            name: 'dashboard',
            rules: exprs.map((e, i) => ({
              record: `dashboard:panel_${String(i)}`,
              expr: asPromQL(e.expr),
            })),
          },
        ],
      }),
    );
    const r = await runCommand(bin, ['check', 'rules', path]);
    expect(r.code, `${r.stdout}${r.stderr}`).to.equal(0);
  });
});
