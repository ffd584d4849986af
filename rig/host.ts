// What the rig needs from the host: Debian's PostgreSQL, OVN central, openssl and Chromium, and Go. It
// installs the Debian packages that are missing when it runs as root, and says what to install
// otherwise.
import { existsSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './process.js';
import { phase } from './ui.js';

/** Commands and the Debian package that brings each. */
const needs: { command: string; pkg: string }[] = [
  { command: 'openssl', pkg: 'openssl' },
  { command: 'ovsdb-server', pkg: 'openvswitch-common' },
  { command: 'ovsdb-tool', pkg: 'openvswitch-common' },
  { command: 'ovn-northd', pkg: 'ovn-central' },
  { command: 'ovn-appctl', pkg: 'ovn-common' },
  // The GUI's tests drive Debian's Chromium headless (playwright-core).
  { command: 'chromium', pkg: 'chromium' },
];

/** Debian's Chromium, which the GUI's browser tests drive. */
export function chromiumPath(): string {
  for (const dir of systemBins) if (existsSync(join(dir, 'chromium'))) return join(dir, 'chromium');
  return 'chromium';
}

const systemBins = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** ovsdb-server lives in /usr/sbin, which a non-root PATH often lacks. */
export function ensureSystemPath(): void {
  const parts = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of systemBins) if (!parts.includes(dir)) parts.push(dir);
  process.env.PATH = parts.join(':');
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, command)));
}

/** The newest PostgreSQL server installed by Debian's packages, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const found = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return found[0] ? join(root, found[0], 'bin') : undefined;
}

function missingPackages(): string[] {
  const pkgs = new Set<string>();
  for (const n of needs) if (!onPath(n.command)) pkgs.add(n.pkg);
  if (!postgresBinDir()) pkgs.add('postgresql');
  return [...pkgs];
}

export async function ensureHostPackages(): Promise<void> {
  ensureSystemPath();
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the rig needs Debian packages that are not installed: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  await phase(`install ${missing.join(', ')} (apt-get)`, async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Packages must not start their own services: the rig runs its own, on its own ports.
    const policy = '/usr/sbin/policy-rc.d';
    const addedPolicy = !existsSync(policy);
    if (addedPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await run('apt-get', ['update'], { env });
      await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    } finally {
      if (addedPolicy) rmSync(policy, { force: true });
    }
  });
  const still = missingPackages();
  if (still.length) throw new Error(`apt-get did not bring: ${still.join(', ')}`);
}

/** uid and gid of Debian's postgres user, for running PostgreSQL when the rig is root. */
export async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'])).trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}
