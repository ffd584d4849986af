// One replica of the sharding simulation (test/synchronizer/shards.test.ts), run as a process of
// its own so that the test can kill it with SIGKILL: it holds shards through ShardLeases and,
// for each shard it holds, "reconciles" the trust domains of that shard over and over. A
// reconcile is a row of sim_work with its start and end, begun only after a fence check that
// this replica's lock session still holds the shard.
//
// Environment: DATABASE_URL, REPLICA (its name), SHARDS, TRUST_DOMAINS (ids 1..n).
import pg from 'pg';
import { ShardLeases, shardOf } from '../../synchronizer/shards.js';

const url = process.env.DATABASE_URL ?? '';
const replica = process.env.REPLICA ?? `r${String(process.pid)}`;
const shards = Number(process.env.SHARDS ?? '8');
const trustDomains = Number(process.env.TRUST_DOMAINS ?? '24');
const say = (line: string) => process.stdout.write(`${replica}: ${line}\n`);

const pool = new pg.Pool({ connectionString: url, max: 4 });
pool.on('error', () => undefined);

interface Worker {
  stop: boolean;
  done: Promise<void>;
}
const workers = new Map<number, Worker>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reconcileLoop(shard: number, w: Worker): Promise<void> {
  const mine = [];
  for (let td = 1; td <= trustDomains; td++) if (shardOf(td, shards) === shard) mine.push(td);
  const stopped = () => w.stop;
  while (!stopped()) {
    for (const td of mine) {
      if (stopped()) return;
      // The fence: no work begins unless the lock session still holds the shard.
      if (!(await leases.holds(pool, shard))) {
        await sleep(20);
        continue;
      }
      const r = await pool.query<{ id: number }>(
        'INSERT INTO sim_work (td, replica, started_at) VALUES ($1, $2, clock_timestamp()) RETURNING id',
        [td, replica],
      );
      await sleep(10 + Math.random() * 30);
      await pool.query('UPDATE sim_work SET ended_at = clock_timestamp() WHERE id = $1', [
        r.rows[0]?.id,
      ]);
    }
    await sleep(5);
  }
}

const leases = new ShardLeases(
  url,
  {
    acquired(shard) {
      const w: Worker = { stop: false, done: Promise.resolve() };
      w.done = reconcileLoop(shard, w).catch((err: unknown) => {
        say(`shard ${String(shard)} failed: ${String(err)}`);
      });
      workers.set(shard, w);
      say(`acquired ${String(shard)}`);
    },
    async release(shard) {
      const w = workers.get(shard);
      workers.delete(shard);
      if (w) {
        w.stop = true;
        await w.done;
      }
      say(`released ${String(shard)}`);
    },
    lost(lost, why) {
      for (const shard of lost) {
        const w = workers.get(shard);
        if (w) w.stop = true;
        workers.delete(shard);
      }
      say(`lost ${lost.join(',')}: ${why}`);
    },
  },
  { shards, intervalMs: 200, group: process.env.GROUP ?? 'sim', member: replica },
);
leases.start();
say('started');

process.on('SIGTERM', () => {
  void leases
    .stop()
    .then(() => pool.end())
    .then(() => {
      say('stopped');
      process.exit(0);
    });
});
