// The benchmark runner: `npm run bench` runs every benchmark, `npm run bench -- models` the one
// named; `--scale 1000,10000` runs each at several N, `--json` prints the results as JSON. Every
// figure is printed with the floor it was measured against in the same run, their ratio and the
// target; a missed target is printed as not met (the exit code stays 0: benchmarks inform, tests
// assert). Progress goes to stderr, the results to stdout.
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { resolveDatabaseUrl } from '../models/embedded.js';
import {
  growthOf,
  toResult,
  type Benchmark,
  type Growth,
  type Result,
  type Target,
} from './harness.js';
import { chainBenchmark } from './chain.js';
import { convergeBenchmark } from './converge.js';
import { modelsBenchmark } from './models.js';
import { ovnBenchmark } from './ovn.js';
import { vtnBenchmark } from './vtn.js';
import { apiBenchmark } from './api.js';
import { toscaBenchmark } from './tosca.js';
import { serveBenchmark } from './serve.js';

/** Every benchmark, in the order `npm run bench` runs them. */
const BENCHMARKS: Benchmark[] = [
  modelsBenchmark,
  convergeBenchmark,
  chainBenchmark,
  ovnBenchmark,
  vtnBenchmark,
  apiBenchmark,
  toscaBenchmark,
  serveBenchmark,
];

const scalesOf = (b: Benchmark): number[] => b.defaultScales ?? [b.defaultScale];

const USAGE = `usage: npm run bench -- [name...] [--scale N[,N...]] [--json]

Runs the benchmarks named (all when none is), each in scratch databases on DATABASE_URL's server
(the embedded server when DATABASE_URL is unset), and prints every figure against its floor.
converge also needs the rig's Kubernetes (KUBECONFIG), ovn its OVN northbound database
(OVN_NB_DB), vtn its VTN server (SYNCORD_VTN_ADDRESS), chain and serve all three:
eval "$(rig/rig env)" first.

  --scale N,M   run at these scales (default: each benchmark's own)
  --json        print the results as JSON instead of a table

benchmarks:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(10)} ${b.summary} (default N=${scalesOf(b).join(',')})`).join('\n')}
`;

class UsageError extends Error {}

interface Options {
  benchmarks: Benchmark[];
  scales: number[] | undefined;
  json: boolean;
}

function parseOptions(argv: string[]): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        scale: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const benchmarks = positionals.map((name) => {
    const b = BENCHMARKS.find((x) => x.name === name);
    if (!b) {
      throw new UsageError(
        `no benchmark named ${name}; there are: ${BENCHMARKS.map((x) => x.name).join(', ')}`,
      );
    }
    return b;
  });
  let scales: number[] | undefined;
  if (values.scale !== undefined) {
    scales = values.scale.split(',').map((text) => {
      const n = Number(text.trim().replaceAll('_', ''));
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new UsageError(`--scale takes positive integers separated by commas, not "${text}"`);
      }
      return n;
    });
  }
  return { benchmarks: benchmarks.length ? benchmarks : BENCHMARKS, scales, json: values.json };
}

/** 12,345 / 123.4 / 1.23: about three significant digits, thousands grouped. */
export function formatNumber(v: number): string {
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `< 2` on the ratio; `< 400 MiB` for an absolute bound, in the figure's unit. */
function formatTarget(t: Target | null, unit: string): string {
  if (!t) return '-';
  return t.absolute ? `${t.op} ${String(t.ratio)} ${unit}` : `${t.op} ${String(t.ratio)}`;
}

const HEADERS = ['bench', 'N', 'figure', 'value', 'floor', 'ratio', 'target', 'met'];

function tableRow(r: Result): string[] {
  return [
    r.bench,
    String(r.n),
    r.figure,
    `${formatNumber(r.value)} ${r.unit}`,
    r.floor === null ? '-' : `${formatNumber(r.floor)} ${r.unit}`,
    r.ratio === null ? '-' : r.ratio.toFixed(2),
    formatTarget(r.target, r.unit),
    r.met === null ? '-' : r.met ? 'yes' : 'NO',
  ];
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function renderTable(rows: string[][]): string {
  const all = [HEADERS, ...rows];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const right = new Set([1, 3, 4, 5]);
  return all
    .map((r) =>
      r
        .map((c, i) =>
          i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function renderGrowth(growth: readonly Growth[]): string {
  const headers = ['bench', 'figure', 'from', 'to', 'cost ∝ N^k', 'growth (linear or better)'];
  const rows = growth.map((g) => [
    g.bench,
    g.figure,
    `${formatNumber(g.from.value)} ${g.unit} at ${String(g.from.n)}`,
    `${formatNumber(g.to.value)} ${g.unit} at ${String(g.to.n)}`,
    `k = ${g.exponent.toFixed(2)}`,
    g.verdict === 'superlinear' ? 'SUPERLINEAR: worse than linear' : g.verdict,
  ]);
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return r.rows[0]?.v ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function main(argv: string[]): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const db = await resolveDatabaseUrl({
    log: (line) => process.stderr.write(`[postgres] ${line}\n`),
  });
  try {
    const environment = {
      node: process.version,
      postgres: await serverVersion(db.url),
      database: db.embedded ? 'embedded' : 'DATABASE_URL',
      cpus: os.cpus().length,
      memory_gib: Math.round(os.totalmem() / 2 ** 30),
    };
    const results: Result[] = [];
    for (const bench of options.benchmarks) {
      for (const n of options.scales ?? scalesOf(bench)) {
        const log = (line: string) =>
          process.stderr.write(`[${bench.name} N=${String(n)}] ${line}\n`);
        const started = Date.now();
        const figures = await bench.run({ serverUrl: db.url, n, log });
        log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        results.push(...figures.map((f) => toResult(bench.name, n, f)));
      }
    }
    const growth = growthOf(results);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ environment, results, growth }, null, 2)}\n`);
    } else {
      process.stdout.write(
        `node ${environment.node}, PostgreSQL ${environment.postgres} (${environment.database}), ` +
          `${String(environment.cpus)} CPUs, ${String(environment.memory_gib)} GiB\n` +
          `ratio = value / floor; the floor is measured in the same run (see bench/README.md)\n\n` +
          `${renderTable(results.map(tableRow))}\n`,
      );
      if (growth.length) {
        process.stdout.write(
          `\nhow each figure grows with N (the total cost's exponent; a rate's is that of N / rate)\n\n` +
            `${renderGrowth(growth)}\n`,
        );
      }
    }
    return 0;
  } finally {
    await db.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
