// `syncord tosca validate|apply|delete FILE...` and `syncord tosca types`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { defaultRegistry } from '../models/index.js';
import { ModelService } from '../models/service.js';
import { applyRecipes, deleteRecipes, type Outcome } from '../tosca/apply.js';
import { parseRecipe, RecipeError, type Recipe } from '../tosca/parse.js';
import { nodeTypesYaml } from '../tosca/types.js';
import { CliError } from './format.js';
import { applyMigrations, withDatabase } from './models.js';

function load(files: string[]): Recipe[] {
  const registry = defaultRegistry();
  const problems: RecipeError['problems'] = [];
  const recipes: Recipe[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      recipes.push(parseRecipe(text, file, registry));
    } catch (err) {
      if (err instanceof RecipeError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new RecipeError(problems);
  return recipes;
}

function report(outcomes: Outcome[], dryRun: boolean): void {
  for (const o of outcomes) {
    const fields = o.fields?.length ? ` (${o.fields.join(', ')})` : '';
    // A dry run's new objects have no id: the transaction that made them was rolled back.
    const what = o.name || (dryRun && o.action === 'created' ? '(new)' : String(o.id ?? ''));
    console.log(`${o.action.padEnd(9)} ${o.model} ${what}${fields}  [${o.template}]`);
  }
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.action, (counts.get(o.action) ?? 0) + 1);
  console.log([...counts].map(([a, n]) => `${String(n)} ${a}`).join(', ') || 'nothing to do');
}

export function addToscaCommands(program: Command): void {
  const tosca = program.command('tosca').description('TOSCA recipes, as xos-tosca read them');
  tosca
    .command('validate <files...>')
    .description('check recipes (every problem, with file, line and column) without applying them')
    .action((files: string[]) => {
      const recipes = load(files);
      console.log(
        `valid: ${String(recipes.reduce((n, r) => n + r.templates.length, 0))} node templates`,
      );
    });
  for (const [name, what] of [
    ['apply', 'create or update what recipes describe, in one transaction'],
    ['delete', 'delete what recipes describe (not their must-exist objects), in reverse order'],
  ] as const) {
    tosca
      .command(`${name} <files...>`)
      .description(what)
      .option('--dry-run', 'print what would change, and change nothing')
      .action(async (files: string[], opts: { dryRun?: boolean }) => {
        const recipes = load(files);
        await withDatabase(async (url) => {
          const registry = defaultRegistry();
          await applyMigrations(url, registry);
          const models = new ModelService(url, registry);
          try {
            const outcomes =
              name === 'apply'
                ? await applyRecipes(models, registry, recipes, { dryRun: opts.dryRun === true })
                : await deleteRecipes(models, registry, recipes, { dryRun: opts.dryRun === true });
            if (opts.dryRun) console.log('dry run: nothing was written');
            report(outcomes, opts.dryRun === true);
          } finally {
            await models.close();
          }
        });
      });
  }
  tosca
    .command('types')
    .description('print the TOSCA node types generated from the model registry')
    .action(() => {
      process.stdout.write(nodeTypesYaml(defaultRegistry()));
    });
}
