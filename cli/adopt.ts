// `syncord adopt [KEY...]`: lists the backend objects Syncord did not make (no owner mark) that
// match a model kind, with the model each would become; with --yes, adopts them (or the KEYs
// named) in one transaction. The synchronizer (`syncord serve`) then puts the owner marks on.
import { Option, type Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import {
  DELETION_POLICIES,
  MANAGEMENT_POLICIES,
  type DeletionPolicy,
  type ManagementPolicy,
} from '../models/registry.js';
import { defaultSteps } from '../steps/index.js';
import {
  adopt,
  discoverAll,
  pickCandidates,
  type AdoptCandidate,
  type AdoptFilter,
  type AdoptSource,
} from '../synchronizer/adopt.js';
import { CliError, renderTable } from './format.js';
import { withService } from './models.js';

interface AdoptFlags {
  backend?: string[];
  kind?: string[];
  namespace?: string;
  selector?: string;
  instance?: string;
  service?: string;
  management?: ManagementPolicy;
  deletion?: DeletionPolicy;
  yes?: boolean;
  output: 'table' | 'json';
}

const list = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** One line per candidate: its key, the model it becomes, and what it is. */
export function candidateTable(candidates: readonly AdoptCandidate[]): string {
  return renderTable(
    ['KEY', 'BECOMES', 'DETAIL'],
    candidates.map((c) => [
      c.key,
      `${c.model} ${typeof c.values.name === 'string' ? c.values.name : ''}`.trim(),
      [
        c.detail,
        c.also?.length ? `(also ${c.also.join(', ')})` : '',
        c.problem ? `(cannot adopt: ${c.problem})` : '',
      ]
        .filter(Boolean)
        .join(' '),
    ]),
  );
}

/**
 * Lists, and with `yes` adopts, what the sources find. `keys` picks candidates (all without a
 * problem when empty); a key that matches nothing is an error, before anything is adopted.
 */
export async function runAdopt(
  sources: readonly AdoptSource[],
  keys: readonly string[],
  flags: AdoptFlags,
  out: (line: string) => void = (line) => {
    process.stdout.write(`${line}\n`);
  },
): Promise<void> {
  const registry = defaultRegistry();
  if (sources.length === 0) {
    throw new CliError(
      'no backend to adopt from is configured here: set OVN_NB_DB, SYNCORD_VTN_ADDRESS or KUBECONFIG as for syncord serve',
    );
  }
  const wanted = flags.backend?.length
    ? sources.filter((s) => flags.backend!.includes(s.backend))
    : sources;
  for (const b of flags.backend ?? []) {
    if (!sources.some((s) => s.backend === b)) {
      const known = sources.map((s) => s.backend).join(', ') || 'none';
      throw new CliError(`--backend ${b}: no such backend configured here (configured: ${known})`);
    }
  }
  const filter: AdoptFilter = {
    ...(flags.kind?.length ? { kinds: flags.kind } : {}),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(flags.selector ? { selector: flags.selector } : {}),
    ...(flags.instance ? { instance: flags.instance } : {}),
    ...(flags.service ? { service: flags.service } : {}),
  };
  await withService(registry, async (svc) => {
    const { candidates, failures } = await discoverAll(svc, wanted, filter);
    for (const f of failures) process.stderr.write(`syncord: could not list ${f}\n`);
    let chosen = candidates;
    if (keys.length) {
      const picked = pickCandidates(candidates, keys);
      if (picked.missing.length) {
        throw new CliError(
          `${picked.missing.join(', ')}: not found among the objects that can be adopted (run syncord adopt to list them)`,
        );
      }
      chosen = picked.chosen;
    }
    if (!flags.yes) {
      if (flags.output === 'json') {
        out(JSON.stringify(chosen, null, 2));
        return;
      }
      if (chosen.length === 0) {
        out('nothing to adopt: every backend object found carries an owner mark');
        return;
      }
      out(candidateTable(chosen));
      const ready = chosen.filter((c) => !c.problem).length;
      out(
        `\n${String(ready)} of ${String(chosen.length)} can be adopted: run again with --yes to adopt ${keys.length ? 'them' : 'all of them, or name their KEYs'}`,
      );
      return;
    }
    const go = keys.length ? chosen : chosen.filter((c) => !c.problem);
    if (go.length === 0) {
      out('nothing to adopt');
      return;
    }
    const adopted = await adopt(svc, go, {
      ...(flags.management ? { management_policy: flags.management } : {}),
      ...(flags.deletion ? { deletion_policy: flags.deletion } : {}),
    });
    if (flags.output === 'json') {
      out(JSON.stringify(adopted, null, 2));
      return;
    }
    for (const a of adopted) {
      out(`adopted ${a.key} as ${a.model} ${String(a.id)}${a.name ? ` (${a.name})` : ''}`);
    }
    out(
      flags.management === 'observe'
        ? 'observed only: the synchronizer reads them into status and never writes them'
        : "the synchronizer puts Syncord's owner marks on them, and changes nothing else",
    );
  });
}

export function addAdoptCommand(program: Command): void {
  program
    .command('adopt [keys...]')
    .description(
      'list backend objects Syncord did not make (no owner mark) and the models they would become; adopt them with --yes',
    )
    .option('--backend <list>', 'only these backends (kubernetes, ovn, vtn, openstack)', list)
    .option(
      '--kind <list>',
      'only these kinds (Namespace, Pod, NetworkAttachmentDefinition, Logical_Switch, Logical_Switch_Port, ServiceNetwork, ServicePort, Network, Port, Server)',
      list,
    )
    .option('-n, --namespace <namespace>', 'Kubernetes: only this namespace')
    .option('-l, --selector <selector>', 'Kubernetes: only pods with these labels (app=web,...)')
    .option(
      '--instance <name|id>',
      'OVN, VTN: the ServiceInstance the adopted ports belong to (a switch port does not say)',
    )
    .option(
      '--service <name|id>',
      'Kubernetes, OpenStack: the Service that owns the adopted trust domains and instances (default: the first KubernetesService, or OpenStackService)',
    )
    .addOption(
      new Option('--management <policy>', 'the adopted objects’ management_policy')
        .choices(MANAGEMENT_POLICIES)
        .default(undefined, 'full'),
    )
    .addOption(
      new Option('--deletion <policy>', 'the adopted objects’ deletion_policy')
        .choices(DELETION_POLICIES)
        .default(undefined, 'delete'),
    )
    .option('-y, --yes', 'adopt (without it, only list)')
    .addOption(
      new Option('-o, --output <format>', 'table or json')
        .choices(['table', 'json'])
        .default('table'),
    )
    .addHelpText(
      'after',
      `
Backends are reached as syncord serve reaches them (OVN_NB_DB, SYNCORD_VTN_ADDRESS, the
Clusters' kubeconfigs and OpenStack credentials). Adoption creates the models in one
transaction (nothing is adopted if any is refused: an address IPAM gives another port, with the
holder named; an object adopted already); the synchronizer then adds Syncord's owner marks and
changes nothing else.`,
    )
    .action(async (keys: string[], flags: AdoptFlags) => {
      const { sources } = defaultSteps({ log: () => undefined });
      try {
        await runAdopt(sources, keys, flags);
      } finally {
        for (const s of sources) await s.close?.();
      }
    });
}
