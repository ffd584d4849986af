// `syncord serve` as a user runs it: a process that leads, serves its endpoints, runs the
// policies, and stops cleanly on SIGTERM.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { baseObjects, scratchDb, type ScratchDb } from '../support/db.js';
import { eventually } from '../support/rig.js';

describe('cli: syncord serve', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  let child: ChildProcess;
  let url = '';
  let stderr = '';

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/syncord.ts', 'serve', '--listen', '127.0.0.1:0', '--resync', '5'],
      {
        // Its own owner-label instance, so its orphan sweep leaves other runs' pods alone.
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          SYNCORD_INSTANCE: `serve-test-${String(process.pid)}`,
        },
        stdio: ['ignore', 'inherit', 'pipe'],
      },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    url = await eventually(
      'serve to listen',
      () => Promise.resolve(/serving \/healthz.* on (http:\S+)/.exec(stderr)?.[1]),
      60_000,
    );
  });
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await db.drop();
  });

  it('leads, answers /readyz, and runs the vSG policy', async () => {
    await eventually('leading', async () => {
      const r = await fetch(`${url}/readyz`);
      const body = await r.text();
      return body === 'ok: leading\n' ? true : undefined;
    });
    const base = await baseObjects(db.service, 'serve');
    const net = await db.service.create('Network', { name: 'access', subnet: '10.60.0.0/24' });
    await db.service.create('NetworkSlice', { network_id: net.id, slice_id: base.slice.id });
    const vsg = await db.service.create('VSGService', { name: 'vsg' });
    const gw = await db.service.create('VSGServiceInstance', {
      name: 'gw',
      owner_id: vsg.id,
      slice_id: base.slice.id,
      s_tag: 1,
      c_tag: 1,
    });
    const done = await eventually('policed', async () => {
      const o = await db.service.get('VSGServiceInstance', gw.id);
      return o.policy_code === 1 ? o : undefined;
    });
    expect(done.policy_status).to.equal('ports net1 on access (10.60.0.2)');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/^syncord_reconcile_total\{step="vsg\/ports",outcome="ok"\} [1-9]/m);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(stderr).to.include('SIGTERM: stopping');
  });
});
