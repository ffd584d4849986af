// Scale-out by trust domain, simulated with real processes on the rig's PostgreSQL: three
// replicas share 8 shards (advisory locks); when one is killed with SIGKILL its shards move to
// the survivors, a replica that joins gets its share back, and no trust domain is ever worked on
// by two replicas at once (each reconcile's start and end are rows in sim_work).
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SHARD_LOCK_SPACE, shardOf } from '../../synchronizer/shards.js';
import { scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

const SHARDS = 8;
const TRUST_DOMAINS = 24;
const script = fileURLToPath(new URL('./shard-replica.ts', import.meta.url));

describe('synchronizer: shards', () => {
  it('puts a trust domain in one shard, and objects of none in shard 0', () => {
    expect(shardOf(9, 8)).to.equal(1);
    expect(shardOf(16, 8)).to.equal(0);
    expect(shardOf(null, 8)).to.equal(0);
    expect(shardOf(undefined, 8)).to.equal(0);
    const counts = new Array<number>(8).fill(0);
    for (let td = 1; td <= 800; td++) counts[shardOf(td, 8)]! += 1;
    expect(counts, 'evenly spread').to.deep.equal(new Array<number>(8).fill(100));
  });
});

describe('synchronizer: shards move between three replicas (simulation)', function () {
  this.timeout(180_000);
  let db: ScratchDb;
  const group = `sim-${String(process.pid)}`;
  const replicas = new Map<string, { child: ChildProcess; out: string[] }>();
  /** When each replica was killed, for the intervals it left open. */
  const killedAt = new Map<string, Date>();

  const start = (name: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        REPLICA: name,
        SHARDS: String(SHARDS),
        TRUST_DOMAINS: String(TRUST_DOMAINS),
        GROUP: group,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const entry = { child, out: [] as string[] };
    child.stdout.on('data', (chunk: Buffer) => entry.out.push(...chunk.toString().split('\n')));
    replicas.set(name, entry);
  };

  /** Who holds which shard, by replica name (the lock sessions' application_name). */
  const holders = async (): Promise<Map<string, number[]>> => {
    const r = await db.sql.query<{ member: string; shard: number }>(
      `SELECT split_part(a.application_name, '/', 2) AS member, l.objid::int AS shard
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objsubid = 2
          AND split_part(a.application_name, '/', 1) = $2
        ORDER BY 2`,
      [SHARD_LOCK_SPACE, `syncord-shards:${group}`],
    );
    const out = new Map<string, number[]>();
    for (const row of r.rows) out.set(row.member, [...(out.get(row.member) ?? []), row.shard]);
    return out;
  };

  const allHeldBy = async (names: string[]) => {
    const h = await holders();
    const total = [...h.values()].reduce((n, s) => n + s.length, 0);
    const who = [...h.keys()].sort();
    if (total !== SHARDS || who.join() !== [...names].sort().join()) return undefined;
    const sizes = [...h.values()].map((s) => s.length);
    if (Math.max(...sizes) > Math.ceil(SHARDS / names.length)) return undefined;
    return h;
  };

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    await db.sql.query(
      `CREATE TABLE sim_work (id serial PRIMARY KEY, td int NOT NULL, replica text NOT NULL,
         started_at timestamptz NOT NULL, ended_at timestamptz)`,
    );
  });
  after(async () => {
    for (const { child } of replicas.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await db.drop();
  });

  const worked = async (since: Date): Promise<Map<number, Set<string>>> => {
    const r = await db.sql.query<{ td: number; replica: string }>(
      'SELECT DISTINCT td, replica FROM sim_work WHERE started_at > $1',
      [since],
    );
    const out = new Map<number, Set<string>>();
    for (const row of r.rows) out.set(row.td, (out.get(row.td) ?? new Set()).add(row.replica));
    return out;
  };

  it('three replicas share the 8 shards, 3 + 3 + 2, and work every trust domain', async () => {
    for (const name of ['a', 'b', 'c']) start(name);
    const h = await eventually(
      '8 shards held by a, b and c',
      () => allHeldBy(['a', 'b', 'c']),
      30_000,
    );
    expect([...h.values()].map((s) => s.length).sort()).to.deep.equal([2, 3, 3]);
    const t0 = new Date();
    await eventually('every trust domain worked', async () => {
      const w = await worked(t0);
      return w.size === TRUST_DOMAINS ? w : undefined;
    });
  });

  it('SIGKILL of a replica moves its shards to the two survivors', async () => {
    const before = await holders();
    const victim = 'a';
    const itsShards = before.get(victim) ?? [];
    expect(itsShards.length).to.be.greaterThan(0);
    const t0 = Date.now();
    replicas.get(victim)?.child.kill('SIGKILL');
    killedAt.set(victim, new Date());
    const h = await eventually('8 shards held by b and c', () => allHeldBy(['b', 'c']), 30_000);
    const moved = Date.now() - t0;
    process.stdout.write(`      (shards ${itsShards.join(', ')} moved in ${String(moved)} ms)\n`);
    expect([...h.values()].map((s) => s.length)).to.deep.equal([4, 4]);
    // The killed replica's trust domains are worked again, by the survivors.
    const since = new Date();
    const orphaned = Array.from({ length: TRUST_DOMAINS }, (_, i) => i + 1).filter((td) =>
      itsShards.includes(shardOf(td, SHARDS)),
    );
    await eventually('its trust domains worked by b or c', async () => {
      const w = await worked(since);
      return orphaned.every((td) => w.has(td) && !w.get(td)?.has(victim)) ? true : undefined;
    });
  });

  it('a replica that joins gets its share: the others hand shards back', async () => {
    start('d');
    const h = await eventually(
      '8 shards held by b, c and d',
      () => allHeldBy(['b', 'c', 'd']),
      30_000,
    );
    expect(h.get('d')?.length).to.be.within(2, 3);
    const handedBack = [...replicas.get('b')!.out, ...replicas.get('c')!.out].filter((l) =>
      /: released \d+$/.test(l),
    );
    expect(handedBack.length, 'b and c handed shards back').to.be.greaterThan(0);
  });

  it('never had two replicas on one trust domain at once', async () => {
    const r = await db.sql.query<{ td: number; replica: string; s: Date; e: Date | null }>(
      'SELECT td, replica, started_at AS s, ended_at AS e FROM sim_work ORDER BY td, started_at',
    );
    expect(r.rows.length).to.be.greaterThan(TRUST_DOMAINS * 3);
    let overlaps = 0;
    const last = new Map<number, { replica: string; end: number }>();
    for (const row of r.rows) {
      const end = (row.e ?? killedAt.get(row.replica) ?? new Date()).getTime();
      const prev = last.get(row.td);
      if (prev && prev.end > row.s.getTime()) {
        overlaps++;
        process.stdout.write(
          `      td ${String(row.td)}: ${prev.replica} until ${String(prev.end)}, ${row.replica} from ${String(row.s.getTime())}\n`,
        );
      }
      if (!prev || end > prev.end) last.set(row.td, { replica: row.replica, end });
    }
    process.stdout.write(`      (${String(r.rows.length)} reconciles checked)\n`);
    expect(overlaps).to.equal(0);
  });

  it('SIGTERM hands every shard back', async () => {
    for (const name of ['b', 'c', 'd']) replicas.get(name)?.child.kill('SIGTERM');
    await Promise.all(
      ['b', 'c', 'd'].map(
        (name) =>
          new Promise<void>((resolve) => {
            const child = replicas.get(name)?.child;
            if (!child || child.exitCode !== null) resolve();
            else
              child.once('exit', () => {
                resolve();
              });
          }),
      ),
    );
    for (const name of ['b', 'c', 'd']) expect(replicas.get(name)?.child.exitCode).to.equal(0);
    expect((await holders()).size).to.equal(0);
  });
});
