// Scale-out beyond one leader: the sync work split into shards (by trust domain), each shard a
// PostgreSQL advisory lock that one replica at a time holds. Every replica counts the members
// of its group (sessions with the group's application_name), aims at ceil(shards / members)
// shards, takes free ones until it holds that many and, when members join, hands back the ones
// over its share (after its owner has stopped working on them). A replica that dies or loses
// its connection loses all its shards at once: PostgreSQL releases a session's locks when the
// session ends, and the survivors take them over on their next round.
//
// The engine does not use this yet (one leader lock, synchronizer/leader.ts, is what runs); see
// synchronizer/README.md "Scale-out" for the plan and test/synchronizer/shards.test.ts for the
// three-replica simulation that exercises it.
import { hostname } from 'node:os';
import pg from 'pg';

/** The first key of the two-key advisory locks: shard locks (the second key is the shard). */
export const SHARD_LOCK_SPACE = 7310434;

/** A trust domain's shard. Objects of no trust domain (shared models) are in shard 0. */
export function shardOf(trustDomainId: number | null | undefined, shards: number): number {
  if (trustDomainId === null || trustDomainId === undefined) return 0;
  return ((trustDomainId % shards) + shards) % shards;
}

export interface ShardOwner {
  /** A shard is this replica's: work on it may start. */
  acquired(shard: number): void;
  /**
   * This replica is to hand the shard back (rebalancing): stop taking its work and resolve
   * when what is in flight has finished; the lock is released after.
   */
  release(shard: number): Promise<void>;
  /** The shards were lost with the connection (another replica may hold them now): stop at once. */
  lost(shards: number[], why: string): void;
}

export interface ShardLeaseOptions {
  /** The number of shards (the same on every replica of the group). */
  shards: number;
  /** The group's name: the replicas that share the shards (default "syncord"). */
  group?: string;
  /**
   * This replica's name, shown in pg_stat_activity as `syncord-shards:<group>/<member>` (default
   * host name and pid).
   */
  member?: string;
  /** How often membership is counted and shards are taken or handed back (ms, default 1000). */
  intervalMs?: number;
  /** How long the connection's health check may take before the shards count as lost (ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export class ShardLeases {
  private client: pg.Client | undefined;
  private readonly held = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private round: Promise<void> | undefined;
  /** The lock session's backend pid, for fencing checks (`holds`). */
  private pid: number | undefined;

  constructor(
    private readonly url: string,
    private readonly owner: ShardOwner,
    private readonly options: ShardLeaseOptions,
  ) {
    if (!Number.isInteger(options.shards) || options.shards < 1) {
      throw new Error(`shards ${String(options.shards)}: a positive integer`);
    }
  }

  /** The shards this replica holds now. */
  get shards(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  /** The application_name prefix that marks the group's members. */
  private get groupName(): string {
    return `syncord-shards:${this.options.group ?? 'syncord'}`;
  }

  /** This member's application_name (PostgreSQL keeps 63 bytes of it). */
  private get appName(): string {
    const member = this.options.member ?? `${hostname()}-${String(process.pid)}`;
    return `${this.groupName}/${member}`.slice(0, 63);
  }

  /** Starts the rounds; the first runs at once. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.round = this.rebalance()
        .catch((err: unknown) => {
          this.drop(`shard round failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs ?? 1000);
        });
    };
    tick();
  }

  /** One round: count the members, then take shards up to this replica's share or hand back. */
  private async rebalance(): Promise<void> {
    const client = await this.connect();
    const health = setTimeout(() => {
      this.drop(`the lock connection did not answer within ${String(this.timeoutMs)} ms`);
    }, this.timeoutMs);
    try {
      const r = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE split_part(application_name, '/', 1) = $1 AND datname = current_database()`,
        [this.groupName],
      );
      const members = Math.max(1, r.rows[0]?.n ?? 1);
      const share = Math.ceil(this.options.shards / members);
      if (this.held.size > share) {
        // Hand back the highest ones first (others take the free shards in order).
        for (const shard of this.shards.reverse().slice(0, this.held.size - share)) {
          await this.owner.release(shard);
          this.held.delete(shard);
          await client.query('SELECT pg_advisory_unlock($1, $2)', [SHARD_LOCK_SPACE, shard]);
          this.options.log?.(`handed shard ${String(shard)} back (${String(members)} members)`);
        }
        return;
      }
      // Start at a different shard on each replica so that they do not all race for shard 0.
      const offset = (this.pid ?? 0) % this.options.shards;
      for (let i = 0; i < this.options.shards && this.held.size < share; i++) {
        const shard = (offset + i) % this.options.shards;
        if (this.held.has(shard)) continue;
        const got = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1, $2) AS ok',
          [SHARD_LOCK_SPACE, shard],
        );
        if (got.rows[0]?.ok) {
          this.held.add(shard);
          this.options.log?.(`took shard ${String(shard)} (${String(members)} members)`);
          this.owner.acquired(shard);
        }
      }
    } finally {
      clearTimeout(health);
    }
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 5000;
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, application_name: this.appName });
    client.on('error', (err) => {
      this.drop(`lock connection failed: ${err.message}`);
    });
    await client.connect();
    const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.pid = r.rows[0]?.pid;
    this.client = client;
    return client;
  }

  /** The connection is gone or unusable: every shard counts as lost. */
  private drop(why: string): void {
    const client = this.client;
    this.client = undefined;
    this.pid = undefined;
    void client?.end().catch(() => undefined);
    if (this.held.size === 0) return;
    const lost = this.shards;
    this.held.clear();
    this.options.log?.(`lost shards ${lost.join(', ')}: ${why}`);
    this.owner.lost(lost, why);
  }

  /**
   * Whether this replica's lock session still holds the shard, asked on another connection
   * (a fence before a write: a session that PostgreSQL ended holds nothing).
   */
  async holds(db: pg.ClientBase | pg.Pool, shard: number): Promise<boolean> {
    if (!this.held.has(shard) || this.pid === undefined) return false;
    const r = await db.query<{ ok: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks
                       WHERE locktype = 'advisory' AND granted AND pid = $1
                         AND classid = $2 AND objid = $3 AND objsubid = 2) AS ok`,
      [this.pid, SHARD_LOCK_SPACE, shard],
    );
    return r.rows[0]?.ok === true;
  }

  /** Hands every shard back (each after its owner has stopped working on it) and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round?.catch(() => undefined);
    for (const shard of this.shards) {
      await this.owner.release(shard);
      this.held.delete(shard);
    }
    const client = this.client;
    this.client = undefined;
    // Ending the session releases its locks.
    await client?.end().catch(() => undefined);
  }
}
