// `syncord ipam holds|release` as a process: an orphaned Port's address and MAC stay held after
// its row is reaped (no one else is given them), are listed with what holds them, and are given
// back by release; a Port's own address cannot be released that way.
import { expect } from 'chai';
import type { ModelObject } from '../../models/service.js';
import { runCommand } from '../support/run.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

describe('cli: syncord ipam holds and release', function () {
  this.timeout(120_000);
  let db: ScratchDb;
  let net: ModelObject;
  let si: ModelObject;
  let orphan: ModelObject;

  const syncord = (...args: string[]) =>
    runCommand(process.execPath, ['--import', 'tsx', 'cli/syncord.ts', 'ipam', ...args], {
      env: { ...process.env, DATABASE_URL: db.url },
    });

  before(async function () {
    this.timeout(45 * 60_000);
    db = await scratchDb();
    const svc = db.service;
    const owner = await svc.create('Service', { name: 'ipam-owner' });
    si = await svc.create('ServiceInstance', { name: 'ipam-si', owner_id: owner.id });
    net = await svc.create('Network', { name: 'ipam-net', subnet: '10.90.0.0/24' });
    orphan = await svc.create('Port', {
      name: 'left-running',
      network_id: net.id,
      service_instance_id: si.id,
      ip: '10.90.0.7',
      mac: '0a:58:0a:5a:00:07',
      deletion_policy: 'orphan',
    });
    // Deleted and reaped as the synchronizer does once its step released the backend object.
    await svc.delete('Port', orphan.id);
    await svc.reap('Port', orphan.id);
  });
  after(async () => {
    await db.drop();
  });

  it('lists what an orphaned Port left held, and no one else is given it', async () => {
    const listed = await syncord('holds');
    expect(listed.code, listed.stderr).to.equal(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^NETWORK\s+WHAT\s+VALUE\s+HELD BY$/);
    const held = `orphaned Port ${String(orphan.id)} (left-running of ServiceInstance ${String(si.id)}), left running in its backend`;
    expect(lines.slice(1)).to.deep.equal([
      `ipam-net   MAC       0a:58:0a:5a:00:07   ${held}`,
      `ipam-net   address   10.90.0.7           ${held}`,
    ]);
    const err = await db.service
      .create('Port', { network_id: net.id, service_instance_id: si.id, ip: '10.90.0.7' })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).to.include(`10.90.0.7 is held by ${held}`);
  });

  it('refuses to release what is not held, naming what is', async () => {
    const live = await db.service.create('Port', {
      name: 'live',
      network_id: net.id,
      service_instance_id: si.id,
      ip: '10.90.0.8',
    });
    const refused = await syncord('release', 'ipam-net', '10.90.0.8');
    expect(refused.code).to.equal(1);
    expect(refused.stderr.trim()).to.equal(
      "syncord: 10.90.0.8 is not held on Network ipam-net (held there: 0a:58:0a:5a:00:07, 10.90.0.7); a Port's own address goes with the Port",
    );
    expect((await db.service.get('Port', live.id)).ip).to.equal('10.90.0.8');
  });

  it('releases an address and a MAC, which IPAM then gives out again', async () => {
    const address = await syncord('release', 'ipam-net', '10.90.0.7');
    expect(address.code, address.stderr).to.equal(0);
    expect(address.stdout).to.match(
      /^released 10\.90\.0\.7 on Network ipam-net \(was held by orphaned Port/,
    );
    const mac = await syncord('release', 'ipam-net', '0a:58:0a:5a:00:07');
    expect(mac.code, mac.stderr).to.equal(0);
    expect((await syncord('holds')).stdout.trim()).to.equal('nothing is held');
    const again = await db.service.create('Port', {
      network_id: net.id,
      service_instance_id: si.id,
      ip: '10.90.0.7',
      mac: '0a:58:0a:5a:00:07',
    });
    expect(again).to.include({ ip: '10.90.0.7', mac: '0a:58:0a:5a:00:07' });
  });
});
