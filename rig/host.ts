// What the rig needs from the host: Debian's PostgreSQL, OVN central, openssl and Chromium, and Go
// (and with `--with openstack`, Debian's OpenStack packages). It installs the Debian packages that
// are missing when it runs as root, and says what to install otherwise.
import {
  chmodSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
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
  await installPackages(missing, []);
  const still = missingPackages();
  if (still.length) throw new Error(`apt-get did not bring: ${still.join(', ')}`);
}

/** The packages of `pkgs` that dpkg does not list as installed. */
async function notInstalled(pkgs: string[]): Promise<string[]> {
  let out: string;
  try {
    out = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...pkgs]);
  } catch (err) {
    // dpkg-query exits 1 when a package is unknown to it, and still prints the others.
    out = (err as { cause?: { stdout?: string } }).cause?.stdout ?? '';
  }
  const installed = new Set(
    out
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([, state]) => state === 'installed')
      .map(([name]) => name),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/**
 * Installs, as root, those of `pkgs` that are not installed. `preseed` lines go to
 * debconf-set-selections first (for packages that would otherwise offer to configure databases).
 */
export async function ensurePackages(
  what: string,
  pkgs: string[],
  preseed: string[] = [],
): Promise<void> {
  ensureSystemPath();
  const missing = await notInstalled(pkgs);
  if (missing.length === 0) return;
  await installPackages(missing, preseed, what);
  const still = await notInstalled(pkgs);
  if (still.length) throw new Error(`apt-get did not bring: ${still.join(', ')}`);
}

/** Whether apt-get update ran within the last hour (its lists' directory was written). */
function aptListsFresh(): boolean {
  try {
    return Date.now() - statSync('/var/lib/apt/lists').mtimeMs < 60 * 60_000;
  } catch {
    return false;
  }
}

async function installPackages(missing: string[], preseed: string[], what?: string) {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the rig needs Debian packages that are not installed: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  const label = what ? `${what}: ` : '';
  await phase(`install ${label}${missing.join(', ')} (apt-get)`, async () => {
    // Maintainer scripts run Debian's own interpreters: a PATH with pyenv shims or the like first
    // would hand them the wrong python3.
    const env = {
      ...process.env,
      DEBIAN_FRONTEND: 'noninteractive',
      PATH: systemBins.join(':'),
    };
    // Packages must not start their own services: the rig runs its own, on its own ports. A
    // policy-rc.d that already refuses (exit 101) stays; any other is set aside meanwhile.
    const policy = '/usr/sbin/policy-rc.d';
    const previous = existsSync(policy)
      ? { text: readFileSync(policy), mode: statSync(policy).mode }
      : undefined;
    const replacePolicy = !previous || !/^exit 101$/m.test(previous.text.toString());
    if (replacePolicy) {
      writeFileSync(policy, '#!/bin/sh\nexit 101\n');
      chmodSync(policy, 0o755);
    }
    const selections = join(tmpdir(), `syncord-rig-debconf-${process.pid}`);
    try {
      if (preseed.length) {
        writeFileSync(selections, preseed.join('\n') + '\n');
        await run('debconf-set-selections', [selections], { env });
      }
      // The package lists once: not again when an apt-get update ran within the hour (CI's
      // own, just before the rig).
      if (!aptListsFresh()) await run('apt-get', ['update'], { env });
      await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    } finally {
      if (replacePolicy) {
        if (previous) {
          writeFileSync(policy, previous.text);
          chmodSync(policy, previous.mode);
        } else rmSync(policy, { force: true });
      }
      rmSync(selections, { force: true });
    }
  });
}

/** uid and gid of Debian's postgres user, for running PostgreSQL when the rig is root. */
export async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'])).trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}
