// NOTIFY and the resumable watch, against the rig's PostgreSQL: each committed change exactly
// once, in commit order, nothing from a rolled-back transaction, resumable from any cursor.
import { expect } from 'chai';
import { CursorExpiredError } from '../../models/errors.js';
import type { ModelService } from '../../models/service.js';
import { headCursor, pruneChanges, watchChanges, type Change } from '../../models/watch.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

/** Collects a watch's changes in the background until stopped. */
function collect(url: string, from?: string, models?: string[]) {
  const controller = new AbortController();
  const seen: Change[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const c of watchChanges(url, { from, signal: controller.signal, models })) {
        seen.push(c);
      }
    } catch (err) {
      error = err;
    }
  })();
  return {
    seen,
    async until(n: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (seen.length < n && Date.now() < deadline && error === undefined) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (error !== undefined) throw error as Error;
      return seen;
    },
    async stop() {
      controller.abort();
      await done;
      if (error !== undefined) throw error as Error;
    },
  };
}

/** Runs the suite against databases on the PostgreSQL server that `server` gives. */
export function watchSuite(where: string, server: () => Promise<string>): void {
  describe(`models: change notification and watch (${where})`, function () {
    this.timeout(120_000);
    let db: ScratchDb;
    let svc: ModelService;

    before(async function () {
      this.timeout(45 * 60_000);
      db = await scratchDb(await server(), 12);
      svc = db.service;
    });
    after(async () => {
      await db.drop();
    });

    it('delivers every committed change once, in commit order, under concurrent writers', async () => {
      const start = await headCursor(db.sql);
      const watch = collect(db.url, start);
      // 10 writers, 20 transactions each; every third transaction rolls back.
      let expectedCommits = 0;
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let i = 0; i < 20; i++) {
            const rollback = i % 3 === 2;
            if (!rollback) expectedCommits++;
            await svc
              .transaction(async (tx) => {
                const site = await tx.create('Site', { name: `w${String(w)}-${String(i)}` });
                await tx.update('Site', site.id, { enabled: false });
                if (rollback) throw new Error('roll back');
              })
              .catch((err: unknown) => {
                if (!(err instanceof Error) || err.message !== 'roll back') throw err;
              });
          }
        }),
      );
      const seen = await watch.until(expectedCommits * 2);
      await new Promise((r) => setTimeout(r, 300)); // anything extra would arrive by now
      await watch.stop();
      const log = await db.sql.query<{ cursor: string; model: string; id: number; op: string }>(
        `SELECT t.cursor || '.' || c.id AS cursor, c.model, c.object_id AS id, c.op
           FROM syncord_change c JOIN syncord_txn t USING (txid)
          WHERE (t.cursor, c.id) > ($1::bigint, $2::bigint) ORDER BY t.cursor, c.id`,
        start.split('.'),
      );
      expect(seen).to.have.length(expectedCommits * 2);
      expect(
        seen.map((c) => ({ cursor: c.cursor, model: c.model, id: c.id, op: c.op })),
      ).to.deep.equal(log.rows);
      // Each site: created, then updated to version 2, in that order; rolled-back names never.
      const names = await db.sql.query<{ id: number; name: string }>('SELECT id, name FROM site');
      const byId = new Map(names.rows.map((r) => [r.id, r.name]));
      expect(names.rows.filter((r) => /-(2|5|8|11|14|17)$/.test(r.name))).to.deep.equal([]);
      for (const id of new Set(seen.map((c) => c.id))) {
        const ops = seen.filter((c) => c.id === id).map((c) => `${c.op}@${String(c.version)}`);
        expect(ops, byId.get(id)).to.deep.equal(['create@1', 'update@2']);
      }
      // Cursors strictly increase.
      const keys = seen.map((c) => c.cursor.split('.').map(BigInt) as [bigint, bigint]);
      for (let i = 1; i < keys.length; i++) {
        const [a, b] = [keys[i - 1]!, keys[i]!];
        expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])).to.be.true;
      }
    });

    it('resumes from a cursor with nothing missed and nothing repeated', async () => {
      const start = await headCursor(db.sql);
      const first = collect(db.url, start);
      for (let i = 0; i < 10; i++) await svc.create('Image', { name: `resume-${String(i)}` });
      await first.until(10);
      await first.stop();
      const cut = first.seen[4]!.cursor; // a client that saw five changes, then lost its connection
      for (let i = 10; i < 15; i++) await svc.create('Image', { name: `resume-${String(i)}` });
      const second = collect(db.url, cut);
      const rest = await second.until(10);
      await second.stop();
      expect([...first.seen.slice(0, 5), ...rest].map((c) => c.cursor)).to.deep.equal(
        [...first.seen, ...rest.slice(5)].map((c) => c.cursor),
      );
      expect(rest).to.have.length(10);
      expect(new Set([...first.seen.slice(0, 5), ...rest].map((c) => c.id)).size).to.equal(15);
    });

    it('sends NOTIFY with (model, id, version, op) on commit, and tells status writes apart', async () => {
      const listener = await db.sql.connect();
      const notes: { model: string; id: number; version: number; op: string }[] = [];
      listener.on('notification', (n) => notes.push(JSON.parse(n.payload ?? '{}') as never));
      await listener.query('LISTEN syncord_change');
      try {
        const net = await svc.create('Network', { name: 'notify', subnet: '10.40.0.0/24' });
        await svc.setStatus('Network', net.id, { backend_code: 1, backend_status: 'ok' });
        await svc.update('Network', net.id, { mtu: 1400 });
        await svc.delete('Network', net.id);
        await svc.reap('Network', net.id);
        for (let i = 0; i < 100 && notes.length < 5; i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(notes.map((n) => [n.model, n.id, n.version, n.op])).to.deep.equal([
          ['Network', net.id, 1, 'create'],
          ['Network', net.id, 1, 'status'],
          ['Network', net.id, 2, 'update'],
          ['Network', net.id, 3, 'delete'],
          ['Network', net.id, 3, 'reap'],
        ]);
      } finally {
        listener.release();
      }
    });

    it('filters by model, and refuses a cursor older than the pruned log', async () => {
      const start = await headCursor(db.sql);
      const watch = collect(db.url, start, ['Flavor']);
      await svc.create('Site', { name: 'not-a-flavor' });
      const f = await svc.create('Flavor', { name: 'f1' });
      const seen = await watch.until(1);
      await watch.stop();
      expect(seen.map((c) => [c.model, c.id])).to.deep.equal([['Flavor', f.id]]);

      const horizon = await pruneChanges(db.sql, 0);
      expect(horizon).to.equal(await headCursor(db.sql));
      const stale = collect(db.url, start);
      const err = await stale.until(1).then(
        () => undefined,
        (e: unknown) => e,
      );
      await stale.stop().catch(() => undefined);
      expect(err).to.be.instanceOf(CursorExpiredError);
      // From the horizon itself, a watch works and sees what comes next.
      const fresh = collect(db.url, horizon);
      const site = await svc.create('Site', { name: 'after-prune' });
      expect((await fresh.until(1)).map((c) => c.id)).to.deep.equal([site.id]);
      await fresh.stop();
    });
  });
}
