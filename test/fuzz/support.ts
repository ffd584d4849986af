// Shared pieces of the property-based tests of bad input (test/fuzz/): fast-check's parameters
// from the environment, a count of the inputs each file tried, a gRPC client of the model API
// logged in as an admin, and a snapshot of the database to show that refused input wrote nothing.
//
//   SYNCORD_FUZZ_RUNS   runs per property (default 100; some properties run a multiple)
//   SYNCORD_FUZZ_SEED   a fixed seed (fast-check prints the seed and path of a failure)
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import { fieldViolations, startApiServer, type ApiServer } from '../../api/server.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

export type Obj = Record<string, unknown>;

const envRuns = Number(process.env.SYNCORD_FUZZ_RUNS);
/** Runs per property. */
export const RUNS = Number.isInteger(envRuns) && envRuns > 0 ? envRuns : 100;
const envSeed = process.env.SYNCORD_FUZZ_SEED;
const SEED = envSeed !== undefined && envSeed !== '' ? Number(envSeed) : undefined;

/**
 * fast-check's parameters: the run count and, when set, the seed (fast-check prints the seed
 * and path of a failure; SYNCORD_FUZZ_SEED replays it). Examples, where a property pins known
 * counterexamples, go beside: `{ ...fcParams(), examples: [...] }`.
 */
export function fcParams(runs = RUNS): { numRuns: number; seed?: number } {
  return {
    numRuns: runs,
    ...(SEED !== undefined && Number.isFinite(SEED) ? { seed: SEED } : {}),
  };
}

/** The text without NUL characters (which have properties of their own). */
export const noNul = (s: string): string => s.split('\u0000').join('');

/** Counts the inputs a file tried; prints one line when the file is done. */
export class InputCounter {
  private n = 0;
  constructor(private readonly label: string) {}
  add(k = 1): void {
    this.n += k;
  }
  get count(): number {
    return this.n;
  }
  /** Registers the mocha `after` hook that prints the count. */
  report(): void {
    after(() => {
      process.stderr.write(`[fuzz] ${this.label}: ${this.n.toLocaleString('en-US')} inputs\n`);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The model API over gRPC (as test/api/server.test.ts reaches it).

import { clientFor, type ApiClient } from '../support/api-call.js';

export { clientFor, type ApiClient, type Call } from '../support/api-call.js';

export const PASSWORD = 'correct horse battery';

export interface Rig {
  db: ScratchDb;
  api: ApiServer;
  client: ApiClient;
  token: string;
  /**
   * Calls a handler of the API in process with an untyped request, as the HTTP/JSON gateway
   * does (api/gateway.ts): the path where a JSON body's wrong types reach the server.
   */
  direct(method: string, req: Obj): Promise<Obj>;
}

/** A scratch database, the API server on it (no rate limit), and an admin's client. */
export async function startAsAdmin(): Promise<Rig> {
  const db = await scratchDb();
  const api = await startApiServer({
    listen: '127.0.0.1:0',
    registry: db.registry,
    models: db.service,
    url: db.url,
    rateLimit: null,
  });
  const role = await db.service.create('Role', { name: 'admin' });
  await db.service.create('User', { name: 'root', password: PASSWORD, role_id: role.id });
  const login = await clientFor(api.address).call('Login')({
    username: 'root',
    password: PASSWORD,
  });
  const token = login.token as string;
  const direct = (method: string, req: Obj): Promise<Obj> =>
    new Promise((resolve, reject) => {
      const handler = api.handlers[method] as grpc.handleUnaryCall<Obj, Obj> | undefined;
      if (!handler) {
        reject(new Error(`no handler ${method}`));
        return;
      }
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      handler(
        { request: req, metadata: md } as unknown as grpc.ServerUnaryCall<Obj, Obj>,
        (err, value) => {
          if (err) reject(Object.assign(new Error(err.details ?? 'failed'), err));
          else resolve(value ?? {});
        },
      );
    });
  return { db, api, client: clientFor(api.address, token), token, direct };
}

/** The refusal of a call that must fail (an assertion error if it succeeded). */
export async function refusal(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').to.be.an('error');
  return err as grpc.ServiceError;
}

/** What a refusal must not look like: a stack trace, SQL or a driver's words. */
const LEAKS =
  /\bat \S+ \(|\.ts:\d+|node_modules|\bSELECT\b|\bINSERT INTO\b|\bUPDATE "|\bsyntax error at\b|\bviolates\b|\brelation "|\bcolumn "|invalid input syntax|invalid byte sequence|unsupported Unicode escape|out of range for type|QueryFailedError|TypeError|ReferenceError|Cannot read prop|undefined is not|is not a function/i;

export const CLEAN_CODES = [
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
];

/**
 * A refusal as issue 13 promises it: a clean code, and a message (with its field violations)
 * that names one of `names` (a field or the model) and is no stack trace or SQL.
 */
export function expectClean(
  err: grpc.ServiceError,
  names: string[],
  codes: grpc.status[] = CLEAN_CODES,
): void {
  const text = `${grpc.status[err.code]}: ${err.details}`;
  expect(codes, `code of ${text}`).to.include(err.code);
  // Errors handed over in process (as the gateway gets them) may come without metadata.
  const violations = (err.metadata as grpc.Metadata | undefined) ? fieldViolations(err) : [];
  const all = [err.details, ...violations.map((v) => `${v.field}: ${v.description}`)].join('\n');
  expect(LEAKS.test(all), `leaks internals: ${all}`).to.equal(false);
  if (names.length) {
    expect(
      names.some((n) => all.includes(n)),
      `names none of ${names.join(', ')}: ${all}`,
    ).to.equal(true);
  }
}

// ---------------------------------------------------------------------------------------------
// The database's state.

/**
 * Everything a write could change: the change log's head and every row of every model table
 * and of Syncord's own tables, hashed per table. The admin's API tokens are left out (a call
 * stamps its token's last use).
 */
export async function snapshot(db: ScratchDb): Promise<Record<string, string>> {
  const tables = [
    ...db.registry
      .tables()
      .map((t) => t.table)
      .filter((t) => t !== 'api_token'),
    'syncord_change',
    'syncord_txn',
    'syncord_ipam_address',
    'syncord_ipam_mac',
    'syncord_tosca_object',
    'syncord_status_history',
  ];
  const out: Record<string, string> = {};
  const parts = tables.map(
    (t) =>
      `SELECT '${t}' AS t, count(*)::text || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`,
  );
  const r = await db.sql.query<{ t: string; h: string }>(parts.join(' UNION ALL '));
  for (const row of r.rows) out[row.t] = row.h;
  return out;
}

/** Whether the model tables still exist (after SQL-looking input). */
export async function tablesExist(db: ScratchDb): Promise<string[]> {
  const r = await db.sql.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'`,
  );
  const have = new Set(r.rows.map((x) => x.t));
  return db.registry
    .tables()
    .map((t) => t.table)
    .filter((t) => !have.has(t));
}

// ---------------------------------------------------------------------------------------------
// Arbitraries shared by the files.

/** Strings a careless layer trips on: SQL, wildcards, escapes, quotes, unicode, NUL, huge. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "'; DROP TABLE site; --",
    '" OR 1=1 --',
    "x' OR 'x'='x",
    '%',
    '_',
    '\\',
    '\\\\%',
    '$1',
    '::int',
    '\u0000',
    'a\u0000b',
    '\uD800',
    '🙂',
    'ﬀ\u202E',
    '',
    ' ',
    'NaN',
    'Infinity',
    '-0',
    '1e999',
    '0x10',
    '<script>',
    '{"a":1}',
    '[]',
    'null',
    'undefined',
    '__proto__',
    'constructor',
  ),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer({ min: 257, max: 5000 }).map((n) => 'x'.repeat(n)),
);
