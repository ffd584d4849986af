// TOSCA recipes: paste or upload one, validate it (problems listed and marked at their lines),
// dry-run, apply or delete it, and read what happened to each template.
import { useState, type ChangeEvent } from 'react';
import { Link } from 'wouter';
import { ApiError, errorText } from '../api';
import { problemText, RecipeEditor } from '../components/RecipeEditor';
import { useSession } from '../session';
import type { Outcome, OutcomeAction, Problem } from '../types';

const ACTIONS: OutcomeAction[] = [
  'created',
  'updated',
  'unchanged',
  'found',
  'deleted',
  'absent',
  'kept',
];

export function summaryOf(outcomes: readonly Outcome[]): string {
  const counts = new Map<OutcomeAction, number>();
  for (const o of outcomes) counts.set(o.action, (counts.get(o.action) ?? 0) + 1);
  const parts = ACTIONS.filter((a) => counts.get(a)).map((a) => `${String(counts.get(a))} ${a}`);
  return parts.length ? parts.join(', ') : 'no templates';
}

/** Problems from an older gateway's error, whose field violations say "file:line:col template.field". */
function problemsOf(err: ApiError): Problem[] {
  if (err.problems.length) return err.problems;
  const out: Problem[] = [];
  for (const v of err.fieldViolations) {
    const m = /^(.*):(\d+):(\d+)(?: (.+))?$/.exec(v.field);
    if (!m) continue;
    const where = m[4] ?? '';
    const dot = where.lastIndexOf('.');
    out.push({
      file: m[1] ?? '',
      line: Number(m[2]),
      col: Number(m[3]),
      ...(where ? { template: dot > 0 ? where.slice(0, dot) : where } : {}),
      ...(dot > 0 ? { field: where.slice(dot + 1) } : {}),
      reason: v.description,
    });
  }
  return out;
}

type Run = 'validate' | 'dry-run' | 'apply' | 'delete' | 'delete-dry-run';

interface Result {
  run: Run;
  outcomes?: Outcome[];
  valid?: boolean;
}

export function Tosca() {
  const { api, user } = useSession();
  const [text, setText] = useState('');
  const [fileName, setFileName] = useState('recipe.yaml');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState<Run | null>(null);
  const [jump, setJump] = useState<{ line: number; col: number; n: number } | null>(null);
  const canWrite = user.role !== 'viewer';

  const files = () => [{ name: fileName, content: text }];

  const go = async (run: Run) => {
    setBusy(run);
    setError('');
    setResult(null);
    try {
      if (run === 'validate') {
        const found = await api.toscaValidate(files());
        setProblems(found);
        setResult({ run, valid: found.length === 0 });
      } else {
        const action = run === 'delete' || run === 'delete-dry-run' ? 'delete' : 'apply';
        const dryRun = run === 'dry-run' || run === 'delete-dry-run';
        const outcomes = await api.tosca(action, files(), dryRun);
        setProblems([]);
        setResult({ run, outcomes });
      }
    } catch (err) {
      if (err instanceof ApiError && run === 'validate' && err.status === 404) {
        setError('Validation is not available on this server: a dry run checks the recipe too.');
      } else if (err instanceof ApiError && problemsOf(err).length) {
        setProblems(problemsOf(err));
        setError(`The recipe was refused: ${String(problemsOf(err).length)} problem(s).`);
      } else setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  const upload = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    void file.text().then((content) => {
      setFileName(file.name);
      setText(content);
      setProblems([]);
      setResult(null);
      setError('');
    });
  };

  const button = (run: Run, label: string, testId: string, cls = '') => (
    <button
      type="button"
      className={cls}
      data-testid={testId}
      disabled={busy !== null || !text.trim()}
      onClick={() => void go(run)}
    >
      {busy === run ? `${label}…` : label}
    </button>
  );

  return (
    <section className="page tosca-page">
      <header className="page-header">
        <h1>TOSCA recipes</h1>
        <label className="button file">
          Upload a recipe…
          <input
            type="file"
            accept=".yaml,.yml,text/yaml"
            data-testid="tosca-file"
            onChange={upload}
          />
        </label>
        <input
          className="file-name"
          value={fileName}
          aria-label="file name"
          onChange={(e) => {
            setFileName(e.target.value);
          }}
        />
      </header>
      <div className="toolbar">
        {button('validate', 'Validate', 'tosca-validate')}
        {canWrite && (
          <>
            {button('dry-run', 'Dry run', 'tosca-dry-run')}
            {button('apply', 'Apply', 'tosca-apply', 'primary')}
            <span className="spacer" />
            {button('delete-dry-run', 'Dry-run delete', 'tosca-delete-dry-run')}
            {button('delete', 'Delete', 'tosca-delete', 'danger')}
          </>
        )}
      </div>
      <div className="tosca-body">
        <RecipeEditor
          value={text}
          onChange={setText}
          problems={problems.filter((p) => p.file === fileName || !p.file)}
          jump={jump}
        />
        <div className="tosca-results">
          {error && (
            <p className="error-banner" role="alert" data-testid="tosca-error">
              {error}
            </p>
          )}
          {problems.length > 0 && (
            <section className="panel">
              <h2>Problems</h2>
              <ul className="problems">
                {problems.map((p, i) => (
                  <li key={`${String(i)}-${problemText(p)}`}>
                    <button
                      type="button"
                      className="link"
                      data-testid="tosca-problem"
                      onClick={() => {
                        setJump({ line: p.line, col: p.col, n: i + Date.now() });
                      }}
                    >
                      {problemText(p)}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          )}
          {result?.valid && (
            <p className="ok-banner" data-testid="tosca-valid">
              The recipe is valid.
            </p>
          )}
          {result?.outcomes && <Outcomes run={result.run} outcomes={result.outcomes} />}
          {!text.trim() && !result && (
            <p className="muted">
              Paste a recipe in the editor or upload a file, then validate it.
            </p>
          )}
        </div>
      </div>
    </section>
  );
}

function Outcomes({ run, outcomes }: { run: Run; outcomes: Outcome[] }) {
  const dry = run === 'dry-run' || run === 'delete-dry-run';
  return (
    <section className="panel">
      <h2>{dry ? 'Dry run: nothing was written' : run === 'delete' ? 'Deleted' : 'Applied'}</h2>
      <p className="summary">
        <span data-testid="tosca-summary">{summaryOf(outcomes)}</span>
      </p>
      <table className="compact">
        <thead>
          <tr>
            <th>template</th>
            <th>model</th>
            <th>object</th>
            <th>outcome</th>
          </tr>
        </thead>
        <tbody>
          {outcomes.map((o) => (
            <tr key={`${o.template}/${o.model}`} data-testid="tosca-outcome" data-action={o.action}>
              <td>{o.template}</td>
              <td>{o.model}</td>
              <td>
                {o.id > 0 && o.action !== 'deleted' ? (
                  <Link href={`/models/${o.model}/${String(o.id)}`}>
                    {o.name || `#${String(o.id)}`}
                  </Link>
                ) : (
                  o.name
                )}
              </td>
              <td>
                <span className={`action action-${o.action}`}>{o.action}</span>
                {o.fields.length > 0 && <span className="muted"> {o.fields.join(', ')}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
