// Leadership: one synchronizer works at a time. The leader holds a session-level PostgreSQL
// advisory lock on a connection of its own; the others poll for it. A leader whose connection
// fails (or whose health check does not answer in time) has lost the lock and must stop working:
// PostgreSQL releases it when the session ends, and another replica takes it over.
import pg from 'pg';

/** The advisory lock key of synchronizer leadership. */
export const LEADER_LOCK = 7310433;

export interface LeaderOptions {
  /** How often a follower tries for the lock, and the leader checks its connection (ms). */
  intervalMs?: number;
  /** How long a health check may take before the leader gives up (ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export class Leader {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private leading = false;
  private lostHandlers: ((why: string) => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly options: LeaderOptions = {},
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Called once if leadership is lost (connection failure); work must stop at once. */
  onLost(handler: (why: string) => void): void {
    this.lostHandlers.push(handler);
  }

  /** Resolves when this process holds the lock; rejects if stopped first. */
  async acquire(): Promise<void> {
    const interval = this.options.intervalMs ?? 1000;
    for (;;) {
      if (this.stopped) throw new Error('stopped before becoming the leader');
      try {
        if (!this.client) {
          const client = new pg.Client({
            connectionString: this.url,
            application_name: 'syncord-leader',
          });
          client.on('error', (err) => {
            this.lose(`leader connection failed: ${err.message}`);
          });
          await client.connect();
          this.client = client;
        }
        const r = await this.client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1) AS ok',
          [LEADER_LOCK],
        );
        if (r.rows[0]?.ok) {
          this.leading = true;
          this.options.log?.('elected leader');
          this.watchHealth();
          return;
        }
      } catch (err) {
        this.options.log?.(
          `waiting for leadership: ${err instanceof Error ? err.message : String(err)}`,
        );
        await this.client?.end().catch(() => undefined);
        this.client = undefined;
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  private watchHealth(): void {
    const interval = this.options.intervalMs ?? 1000;
    const timeout = this.options.timeoutMs ?? 5000;
    const check = async () => {
      const client = this.client;
      if (!client || !this.leading) return;
      const timer = setTimeout(() => {
        this.lose(`leader connection did not answer within ${String(timeout)} ms`);
      }, timeout);
      try {
        await client.query('SELECT 1');
      } catch (err) {
        this.lose(`leader connection failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        clearTimeout(timer);
      }
      if (this.isLeader) this.timer = setTimeout(() => void check(), interval);
    };
    this.timer = setTimeout(() => void check(), interval);
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.timer);
    this.options.log?.(`lost leadership: ${why}`);
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
    for (const h of this.lostHandlers.splice(0)) h(why);
  }

  /** Gives the lock up (closing the session releases it) and stops trying. */
  async release(): Promise<void> {
    this.stopped = true;
    const wasLeading = this.leading;
    this.leading = false;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    if (wasLeading) for (const h of this.lostHandlers.splice(0)) h('released');
  }
}
