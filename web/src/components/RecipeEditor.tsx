// The recipe editor: CodeMirror 6 with YAML and a lint gutter; problems are shown as marks at
// their lines.
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { basicSetup, EditorView } from 'codemirror';
import { useEffect, useEffectEvent, useRef } from 'react';
import type { Problem } from '../types';

export function problemText(p: Problem): string {
  const where = [p.template, p.field].filter(Boolean).join(' ');
  return `${p.file}:${String(p.line)}:${String(p.col)}${where ? ` ${where}` : ''}: ${p.reason}`;
}

function diagnosticsOf(view: EditorView, problems: readonly Problem[]): Diagnostic[] {
  const doc = view.state.doc;
  return problems.map((p) => {
    const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines));
    const from = Math.min(line.from + Math.max(p.col - 1, 0), line.to);
    const to = from < line.to ? line.to : Math.min(from + 1, doc.length);
    const where = [p.template, p.field].filter(Boolean).join(' ');
    return { from, to, severity: 'error', message: `${where ? `${where}: ` : ''}${p.reason}` };
  });
}

export function RecipeEditor({
  value,
  onChange,
  problems,
  jump,
}: {
  value: string;
  onChange: (text: string) => void;
  /** Problems of this file, marked in the gutter and under their text. */
  problems: readonly Problem[];
  /** A line to put the cursor on (changes when the user clicks a problem). */
  jump: { line: number; col: number; n: number } | null;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useEffectEvent((text: string) => {
    onChange(text);
  });
  const initial = useEffectEvent(() => value);

  useEffect(() => {
    const v = new EditorView({
      doc: initial(),
      parent: host.current!,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) changed(u.state.doc.toString());
        }),
      ],
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
  }, []);

  // A recipe loaded from a file (or cleared) replaces the text.
  useEffect(() => {
    const v = view.current;
    if (!v || v.state.doc.toString() === value) return;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, diagnosticsOf(v, problems)));
  }, [problems, value]);

  useEffect(() => {
    const v = view.current;
    if (!v || !jump) return;
    const [d] = diagnosticsOf(v, [{ file: '', line: jump.line, col: jump.col, reason: '' }]);
    if (!d) return;
    v.dispatch({ selection: { anchor: d.from }, scrollIntoView: true });
    v.focus();
  }, [jump]);

  return <div className="editor" ref={host} data-testid="tosca-editor" />;
}
