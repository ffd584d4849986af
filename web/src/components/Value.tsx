// A field's value for reading: references as links with the referenced object's name, JSON as
// code, timestamps in local time.
import { Link } from 'wouter';
import { useNames } from '../names';
import type { FieldInfo } from '../types';

export function RefLink({ model, id }: { model: string; id: number }) {
  const names = useNames();
  const name = names?.get(model, id);
  return (
    <Link href={`/models/${model}/${String(id)}`} className="ref">
      {name ?? `${model} #${String(id)}`}
    </Link>
  );
}

function formatTime(v: string): string {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString([], { hour12: false });
}

export function FieldValue({
  field,
  value,
  short = false,
}: {
  field: FieldInfo | undefined;
  value: unknown;
  short?: boolean;
}) {
  if (field?.secret) return <span className="empty">(write-only: never shown)</span>;
  if (value === null || value === undefined || value === '')
    return <span className="empty">—</span>;
  if (field?.type === 'reference' && field.reference && typeof value === 'number') {
    return value > 0 ? (
      <RefLink model={field.reference} id={value} />
    ) : (
      <span className="empty">—</span>
    );
  }
  if (typeof value === 'boolean') return <span className="bool">{value ? 'yes' : 'no'}</span>;
  if (field?.type === 'timestamp' && typeof value === 'string') {
    return <time dateTime={value}>{formatTime(value)}</time>;
  }
  if (field?.type === 'password') return <span className="empty">(set)</span>;
  if (typeof value === 'object') {
    const text = JSON.stringify(value, null, short ? undefined : 2);
    return short ? (
      <code title={text}>{text.length > 60 ? `${text.slice(0, 57)}…` : text}</code>
    ) : (
      <pre className="json">{text}</pre>
    );
  }
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number'
        ? String(value)
        : JSON.stringify(value);
  if (short && text.length > 80) return <span title={text}>{`${text.slice(0, 77)}…`}</span>;
  return field?.type === 'text' && !short ? <pre className="text">{text}</pre> : <>{text}</>;
}
