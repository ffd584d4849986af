// Builds the rig's Go components from their modules, once per version: the binaries land under
// $SYNCORD_CACHE_DIR/bin/<component>/<key>/, where the key covers the pinned version, the
// wrapper module's files and the Go version, so a second `rig up` finds them and builds nothing.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { rigDir, versions, type RigConfig } from './config.js';
import { run } from './process.js';
import { phase } from './ui.js';

export interface GoBuild {
  /** Component name, also the cache folder's name. */
  name: string;
  /** The version that goes into the cache key and is reported by status. */
  version: string;
  /** The wrapper module under rig/go/. */
  module: string;
  /**
   * Packages to build; each yields one binary named after its last path element. None: the
   * component is only its extraFiles.
   */
  packages: string[];
  ldflags: string;
  /** Files the component needs at run time from its module, copied next to the binaries. */
  extraFiles?: { module: string; files: string[]; to: string };
}

/** Prometheus tags release 3.16.0 as Go module version v0.316.0. */
function prometheusRelease(moduleVersion: string): string {
  const m = /^v0\.(\d+)(\d\d)\.(\d+)$/.exec(moduleVersion);
  return m ? `${m[1] ?? ''}.${String(Number(m[2]))}.${m[3] ?? ''}` : moduleVersion;
}

export function goBuilds(): GoBuild[] {
  const k = versions.kubernetes;
  const [major, minor] = k.replace(/^v/, '').split('.');
  const versionFlags = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${k}`,
      `-X ${pkg}.gitMajor=${major ?? ''}`,
      `-X ${pkg}.gitMinor=${minor ?? ''}`,
      `-X ${pkg}.gitTreeState=clean`,
    ])
    .join(' ');
  return [
    {
      name: 'kubernetes',
      version: k,
      module: 'k8s',
      // kubectl too: the tests (and people) delete pods out of band with it.
      packages: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'].map(
        (c) => `k8s.io/kubernetes/cmd/${c}`,
      ),
      ldflags: `-s -w ${versionFlags}`,
    },
    {
      name: 'etcd',
      version: versions.etcd,
      module: 'etcd',
      packages: ['.'],
      ldflags: '-s -w',
    },
    {
      name: 'kwok',
      version: versions.kwok,
      module: 'kwok',
      packages: ['sigs.k8s.io/kwok/cmd/kwok'],
      ldflags: '-s -w',
      // kwok's own default node and pod lifecycle stages (those kwokctl uses with node leases):
      // the rig loads them with its Multus stage, since a config with stages replaces kwok's
      // built-in defaults.
      extraFiles: {
        module: 'sigs.k8s.io/kwok',
        files: [
          'kustomize/stage/node/fast/node-initialize.yaml',
          'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
          'kustomize/stage/pod/fast/pod-ready.yaml',
          'kustomize/stage/pod/fast/pod-complete.yaml',
          'kustomize/stage/pod/fast/pod-delete.yaml',
        ],
        to: 'stages',
      },
    },
    {
      // A gRPC command-line client for tests and people, not a daemon: `rig up` only builds it.
      name: 'grpcurl',
      version: versions.grpcurl,
      module: 'grpcurl',
      packages: ['github.com/fullstorydev/grpcurl/cmd/grpcurl'],
      // grpcurl -version prints main.version.
      ldflags: `-s -w -X main.version=${versions.grpcurl}`,
    },
    {
      // A gRPC load generator for the load tests (test/load/), not a daemon: `rig up` only builds it.
      name: 'ghz',
      version: versions.ghz,
      module: 'ghz',
      packages: ['github.com/bojand/ghz/cmd/ghz'],
      // ghz --version prints main.version.
      ldflags: `-s -w -X main.version=${versions.ghz}`,
    },
    {
      // Helm, for the chart's tests (test/deploy/helm.test.ts), not a daemon: `rig up` only builds it.
      name: 'helm',
      version: versions.helm,
      module: 'helm',
      packages: ['helm.sh/helm/v3/cmd/helm'],
      // helm version prints internal/version.version.
      ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${versions.helm}`,
    },
    {
      // Prometheus's rule checker (promtool check rules / test rules), for the chart's rule file;
      // not a daemon: `rig up` only builds it.
      name: 'promtool',
      version: versions.promtool,
      module: 'promtool',
      packages: ['github.com/prometheus/prometheus/cmd/promtool'],
      // promtool --version prints common/version.Version: the release (module v0.316.0 is 3.16.0).
      ldflags: `-s -w -X github.com/prometheus/common/version.Version=${prometheusRelease(versions.promtool)}`,
    },
    {
      // Nothing to build: the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, copied
      // from its module; `rig up` applies them (rig/components/prometheus-operator.ts) so the
      // chart's monitoring objects can be applied to the rig's apiserver. No operator runs.
      name: 'prometheus-operator-crds',
      version: versions.prometheusOperator,
      module: 'prometheus-operator',
      packages: [],
      ldflags: '',
      extraFiles: {
        module: 'github.com/prometheus-operator/prometheus-operator',
        files: [
          'example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml',
          'example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml',
        ],
        to: 'crds',
      },
    },
    {
      // KubeVirt's own CRD generator (rig/go/kubevirt/main.go), not a daemon: `rig up` runs it
      // once the apiserver is up and applies the CRDs it prints (rig/components/kubevirt.ts).
      name: 'kubevirt-crds',
      version: versions.kubevirt,
      module: 'kubevirt',
      packages: ['.'],
      ldflags: '-s -w',
    },
  ];
}

export function goEnv(config: RigConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE: join(config.cacheDir, 'go', 'mod'),
    GOCACHE: join(config.cacheDir, 'go', 'build'),
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=readonly -buildvcs=false',
    CGO_ENABLED: '0',
  };
}

async function goVersion(): Promise<string> {
  try {
    return (await run('go', ['env', 'GOVERSION'])).trim();
  } catch {
    throw new Error(
      `Go is needed to build the rig's Kubernetes, etcd, kwok, grpcurl, ghz, helm, promtool and KubeVirt CRD generator (go${versions.go} or later), and 'go' was not found on PATH`,
    );
  }
}

function cacheKey(build: GoBuild, goVer: string): string {
  const hash = createHash('sha256');
  hash.update(goVer);
  hash.update(JSON.stringify(build));
  const dir = join(rigDir, 'go', build.module);
  for (const file of readdirSync(dir).sort()) {
    hash.update(file);
    hash.update(readFileSync(join(dir, file)));
  }
  return `${build.version}-${hash.digest('hex').slice(0, 12)}`;
}

function binaryNames(build: GoBuild): string[] {
  return build.packages.map((p) => (p === '.' ? build.name : (p.split('/').pop() ?? p)));
}

/** What a complete build leaves in its folder: the binaries and the copied files. */
function outputs(build: GoBuild): string[] {
  const x = build.extraFiles;
  return [...binaryNames(build), ...(x ? x.files.map((f) => join(x.to, basename(f))) : [])];
}

/** Returns the folder holding the component's binaries, building them if the cache lacks them. */
export async function ensureBuilt(build: GoBuild, config: RigConfig): Promise<string> {
  const goVer = await goVersion();
  const want = Number(versions.go.split('.')[1]);
  const have = Number(/^go1\.(\d+)/.exec(goVer)?.[1] ?? '0');
  if (have < want) {
    throw new Error(
      `the rig needs go${versions.go} or later to build ${build.name}; found ${goVer}`,
    );
  }
  const out = join(config.cacheDir, 'bin', build.name, cacheKey(build, goVer));
  if (outputs(build).every((b) => existsSync(join(out, b)))) return out;
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const env = goEnv(config);
  const moduleDir = join(rigDir, 'go', build.module);
  await phase(`download ${build.name} ${build.version} modules`, () =>
    run('go', ['mod', 'download'], { cwd: moduleDir, env }),
  );
  if (build.packages.length) {
    await phase(`build ${binaryNames(build).join(', ')} ${build.version}`, async () => {
      const args = ['build', '-trimpath', '-ldflags', build.ldflags, '-o', tmp + '/'];
      if (build.packages.length === 1 && build.packages[0] === '.') {
        args.splice(args.indexOf('-o') + 1, 1, join(tmp, build.name));
      }
      await run('go', [...args, ...build.packages], { cwd: moduleDir, env });
    });
  }
  if (build.extraFiles) {
    const x = build.extraFiles;
    // A module no package of the wrapper imports is not in `go mod download`'s set: fetch it.
    await run('go', ['mod', 'download', x.module], { cwd: moduleDir, env });
    const moduleRoot = (
      await run('go', ['list', '-m', '-f', '{{.Dir}}', x.module], { cwd: moduleDir, env })
    ).trim();
    mkdirSync(join(tmp, x.to));
    for (const f of x.files) copyFileSync(join(moduleRoot, f), join(tmp, x.to, basename(f)));
  }
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return out;
}
