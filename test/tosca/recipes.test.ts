// TOSCA recipes against a scratch database: the examples apply, re-apply as no-ops, dry-run
// without writing, and delete cleanly; a corpus of broken recipes (test/tosca/broken, each wrong
// in one way, its expected error in its first line) gives that error at that line and column and
// leaves the database as it was.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyRecipes, deleteRecipes } from '../../tosca/apply.js';
import { parseRecipe, RecipeError, type Recipe } from '../../tosca/parse.js';
import { nodeTypes } from '../../tosca/types.js';
import { scratchDb, type ScratchDb } from '../support/db.js';

const EXAMPLES = 'examples/tosca';
const BROKEN = 'test/tosca/broken';

/** Rows in every model table (the database's state, for "unchanged"). */
async function census(db: ScratchDb): Promise<string> {
  const out: string[] = [];
  for (const t of db.registry.tables()) {
    const r = await db.sql.query<{ n: string }>(`SELECT count(*) AS n FROM "${t.table}"`);
    out.push(`${t.table} ${r.rows[0]!.n}`);
  }
  return out.join(', ');
}

const problemsOf = (err: unknown): string[] => {
  expect(err, 'a RecipeError').to.be.instanceOf(RecipeError);
  return (err as RecipeError).problems.map(
    (p) =>
      `${String(p.line)}:${String(p.col)} ${p.template ? `${p.template}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.reason}`,
  );
};

describe('tosca: recipes', function () {
  this.timeout(60_000);
  let db: ScratchDb;

  before(async function () {
    this.timeout(10 * 60_000);
    db = await scratchDb();
  });
  after(async () => {
    await db.drop();
  });

  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))) {
    it(`${file}: applies, re-applies as a no-op, dry-runs without writing, deletes cleanly`, async () => {
      const path = join(EXAMPLES, file);
      const recipe: Recipe = parseRecipe(readFileSync(path, 'utf8'), path, db.registry);
      const empty = await census(db);
      const plan = await applyRecipes(db.service, db.registry, [recipe], { dryRun: true });
      expect(plan.every((o) => o.action === 'created')).to.equal(true);
      expect(await census(db)).to.equal(empty);
      const first = await applyRecipes(db.service, db.registry, [recipe]);
      expect(first.map((o) => o.action)).to.deep.equal(recipe.templates.map(() => 'created'));
      const applied = await census(db);
      const again = await applyRecipes(db.service, db.registry, [recipe]);
      expect(
        again.every((o) => o.action === 'unchanged'),
        JSON.stringify(again),
      ).to.equal(true);
      expect(await census(db)).to.equal(applied);
      const removed = await deleteRecipes(db.service, db.registry, [recipe]);
      expect(removed.every((o) => o.action === 'deleted')).to.equal(true);
      // Soft-deleted, awaiting teardown by the synchronizer: none of them is live any more.
      for (const o of first) {
        const live = await db.sql.query(
          `SELECT 1 FROM "${db.registry.get(o.model).table}" WHERE id = $1 AND deleted_at IS NULL`,
          [o.id],
        );
        expect(live.rowCount, `${o.model} ${String(o.id)}`).to.equal(0);
      }
    });
  }

  it('updates only what a recipe changes, and names the fields', async () => {
    const text = (abbr: string) => `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    site#edit-me:
      type: tosca.nodes.Site
      properties:
        abbreviated_name: ${abbr}
`;
    const parse = (abbr: string) => parseRecipe(text(abbr), 'edit.yaml', db.registry);
    await applyRecipes(db.service, db.registry, [parse('one')]);
    const out = await applyRecipes(db.service, db.registry, [parse('two')]);
    expect(out[0]).to.include({ action: 'updated' });
    expect(out[0]!.fields).to.deep.equal(['abbreviated_name']);
  });

  it('sets management and deletion policies; xos_managed false means observe, as in XOS', async () => {
    const recipe = `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    site#policy-a:
      type: tosca.nodes.Site
      properties:
        deletion_policy: orphan
        management_policy: create-only
    site#policy-b:
      type: tosca.nodes.Site
      properties:
        xos_managed: false
    site#policy-c:
      type: tosca.nodes.Site
      properties:
        xos_managed: false
        management_policy: full
`;
    await applyRecipes(db.service, db.registry, [parseRecipe(recipe, 'p.yaml', db.registry)]);
    const got = await db.service.list('Site', {
      filter: [{ field: 'name', op: 'in', value: ['policy-a', 'policy-b', 'policy-c'] }],
      orderBy: [{ field: 'name' }],
    });
    expect(got.items.map((o) => [o.name, o.management_policy, o.deletion_policy])).to.deep.equal([
      ['policy-a', 'create-only', 'orphan'],
      ['policy-b', 'observe', 'delete'],
      ['policy-c', 'full', 'delete'],
    ]);
    const types = nodeTypes(db.registry) as Record<string, { properties: Record<string, unknown> }>;
    expect(types['tosca.nodes.Site']!.properties.management_policy).to.deep.include({
      default: 'full',
      constraints: [{ valid_values: ['full', 'observe', 'create-only'] }],
    });
  });

  it('deletes only what recipes created, and keeps what was there before', async () => {
    await db.service.create('Site', { name: 'was-here' });
    const text = `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    site#was-here:
      type: tosca.nodes.Site
    service#made-here:
      type: tosca.nodes.Service
`;
    const recipe = parseRecipe(text, 'keep.yaml', db.registry);
    const applied = await applyRecipes(db.service, db.registry, [recipe]);
    expect(applied.map((o) => `${o.action} ${o.name}`)).to.have.members([
      'unchanged was-here',
      'created made-here',
    ]);
    const removed = await deleteRecipes(db.service, db.registry, [recipe]);
    expect(removed.map((o) => `${o.action} ${o.name}`)).to.have.members([
      'kept was-here',
      'deleted made-here',
    ]);
    const left = await db.service.list('Site', { filter: [{ field: 'name', value: 'was-here' }] });
    expect(left.items).to.have.length(1);
  });

  const broken = readdirSync(BROKEN)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  it(`has a corpus of broken recipes (${String(broken.length)})`, () => {
    expect(broken.length).to.be.at.least(30);
  });
  for (const file of broken) {
    it(`refuses ${file} with the error it names, and changes nothing`, async () => {
      const path = join(BROKEN, file);
      const text = readFileSync(path, 'utf8');
      const header = /^# (apply-)?expect: (.*)$/m.exec(text);
      expect(header, 'the file names its expected error').to.not.equal(null);
      const expected = header![2]!;
      const before = await census(db);
      let err: unknown;
      try {
        const recipe = parseRecipe(text, path, db.registry);
        expect(header![1], 'a parse error was expected').to.equal('apply-');
        await applyRecipes(db.service, db.registry, [recipe]);
      } catch (e) {
        err = e;
      }
      const problems = problemsOf(err);
      expect(
        problems.some((p) => p.startsWith(expected)),
        `expected "${expected}" among:\n${problems.join('\n')}`,
      ).to.equal(true);
      expect(await census(db)).to.equal(before);
    });
  }

  it('finds every problem of a recipe at once', () => {
    const text = `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    site#a:
      type: tosca.nodes.Site
      properties:
        colour: red
    widget#b:
      type: tosca.nodes.Widget
`;
    let err: unknown;
    try {
      parseRecipe(text, 'many.yaml', db.registry);
    } catch (e) {
      err = e;
    }
    expect(problemsOf(err)).to.have.length(2);
  });

  it('generates a node type per model from the registry', () => {
    const types = nodeTypes(db.registry) as Record<
      string,
      { properties: Record<string, unknown>; requirements?: unknown[] }
    >;
    expect(Object.keys(types)).to.include('tosca.nodes.VNFServiceInstance');
    expect(types['tosca.nodes.Network']!.properties).to.have.property('subnet');
    expect(JSON.stringify(types['tosca.nodes.Port']!.requirements)).to.include(
      'tosca.relationships.BelongsToOne',
    );
  });
});
