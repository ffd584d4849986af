// The TOSCA benchmark (issue 9): a generated recipe of N node templates (default 5,000) applied
// against the floor of the same objects created through the model layer in the same run.
//
// The recipe: one Site, one Service, and N - 2 ServiceInstances owned by the Service, each named,
// so that every template but two has a requirement to resolve. The floor creates the same objects
// with `createMany` in one transaction (500 a call), in a database of its own. Both are timed from
// their start until their transaction committed; the recipe's parse is counted (it is part of an
// apply). Both sides are first warmed up alike, as in a server that has applied recipes before
// (the models benchmark does the same): a recipe of WARMUP templates, and the same objects through
// createMany, each in a scratch database of its own. Then three rounds, alternating; medians. What a first parse costs in a fresh process
// (a one-shot `syncord tosca apply`) is measured before the warm-up and printed on its own row.
import { defaultRegistry } from '../models/index.js';
import type { Registry } from '../models/registry.js';
import { ModelService } from '../models/service.js';
import { applyRecipes } from '../tosca/apply.js';
import { parseRecipe } from '../tosca/parse.js';
import {
  now,
  withMigratedScratch,
  type BenchContext,
  type Benchmark,
  type Figure,
} from './harness.js';

function recipe(n: number): string {
  const lines = [
    'tosca_definitions_version: tosca_simple_yaml_1_0',
    'description: generated',
    'topology_template:',
    '  node_templates:',
    '    site#bench-site:',
    '      type: tosca.nodes.Site',
    '    service#bench-service:',
    '      type: tosca.nodes.Service',
  ];
  for (let i = 0; i < n - 2; i++) {
    lines.push(
      `    si-${String(i)}:`,
      '      type: tosca.nodes.ServiceInstance',
      '      properties:',
      `        name: si-${String(i)}`,
      '      requirements:',
      '        - owner:',
      '            node: service#bench-service',
      '            relationship: tosca.relationships.BelongsToOne',
    );
  }
  return `${lines.join('\n')}\n`;
}

const WARMUP = 200;
const ROUNDS = 3;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The floor: the recipe's objects through the model layer, in one transaction. */
async function floorRun(serverUrl: string, registry: Registry, n: number): Promise<number> {
  return withMigratedScratch(serverUrl, registry, async (url) => {
    const models = new ModelService(url, registry);
    try {
      const t0 = now();
      await models.transaction(async (tx) => {
        await tx.createMany('Site', [{ name: 'bench-site' }]);
        const [service] = await tx.createMany('Service', [{ name: 'bench-service' }]);
        const rows = Array.from({ length: n - 2 }, (_, i) => ({
          name: `si-${String(i)}`,
          owner_id: service!.id,
        }));
        for (let i = 0; i < rows.length; i += 500) {
          await tx.createMany('ServiceInstance', rows.slice(i, i + 500));
        }
      });
      return now() - t0;
    } finally {
      await models.close();
    }
  });
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const { log, n } = ctx;
  const registry = defaultRegistry();
  const text = recipe(n);
  log(`recipe: ${String(n)} node templates, ${String(Math.round(text.length / 1024))} KiB`);
  const c0 = now();
  parseRecipe(text, 'generated.yaml', registry);
  const coldParseMs = now() - c0;
  log(
    `first parse in this process: ${coldParseMs.toFixed(0)} ms; warming up both sides (${String(WARMUP)} templates)`,
  );
  await floorRun(ctx.serverUrl, registry, WARMUP);
  await withMigratedScratch(ctx.serverUrl, registry, async (url) => {
    const models = new ModelService(url, registry);
    try {
      const warm = recipe(WARMUP);
      await applyRecipes(models, registry, [parseRecipe(warm, 'warmup.yaml', registry)]);
      await applyRecipes(models, registry, [parseRecipe(warm, 'warmup.yaml', registry)]);
    } finally {
      await models.close();
    }
  });
  const applyRun = () =>
    withMigratedScratch(ctx.serverUrl, registry, async (url) => {
      const models = new ModelService(url, registry);
      try {
        const t0 = now();
        const parsed = parseRecipe(text, 'generated.yaml', registry);
        const parseMs = now() - t0;
        const outcomes = await applyRecipes(models, registry, [parsed]);
        const applyMs = now() - t0;
        if (outcomes.filter((o) => o.action === 'created').length !== n) {
          throw new Error(
            `the recipe created ${String(outcomes.length)} objects, not ${String(n)}`,
          );
        }
        const t1 = now();
        const again = await applyRecipes(models, registry, [
          parseRecipe(text, 'generated.yaml', registry),
        ]);
        const reapplyMs = now() - t1;
        if (!again.every((o) => o.action === 'unchanged'))
          throw new Error('the re-apply changed something');
        return { parseMs, applyMs, reapplyMs };
      } finally {
        await models.close();
      }
    });
  // Rounds alternate between the sides; each figure is the median of its rounds (a single
  // round of a quarter-second figure swings by a fifth with the machine's other work).
  const floors: number[] = [];
  const applies: { parseMs: number; applyMs: number; reapplyMs: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    floors.push(await floorRun(ctx.serverUrl, registry, n));
    applies.push(await applyRun());
  }
  const floorMs = median(floors);
  const result = {
    parseMs: median(applies.map((x) => x.parseMs)),
    applyMs: median(applies.map((x) => x.applyMs)),
    reapplyMs: median(applies.map((x) => x.reapplyMs)),
  };
  log(
    `apply ${result.applyMs.toFixed(0)} ms (of which parse ${result.parseMs.toFixed(0)} ms), re-apply ${result.reapplyMs.toFixed(0)} ms; model layer ${floorMs.toFixed(0)} ms`,
  );
  return [
    {
      figure: `apply a recipe of ${String(n)} templates (floor: createMany in one transaction)`,
      value: result.applyMs,
      unit: 'ms',
      floor: floorMs,
      target: { op: '<', ratio: 1.5 },
    },
    { figure: 'of which parsing and checking the recipe', value: result.parseMs, unit: 'ms' },
    {
      figure: 'parsing and checking it in a fresh process (a one-shot CLI apply)',
      value: coldParseMs,
      unit: 'ms',
    },
    { figure: 're-apply (nothing to change)', value: result.reapplyMs, unit: 'ms' },
  ];
}

export const toscaBenchmark: Benchmark = {
  name: 'tosca',
  summary: 'a generated recipe of N templates applied vs the model layer',
  defaultScale: 5000,
  run,
};
