// A section of a page fed by one read: loading, refused, "not available" when the server has no
// such endpoint (404: a gateway older than the page), or its content.
import type { ReactNode } from 'react';
import { ApiError, errorText } from '../api';
import type { Loaded } from '../hooks';

export function Panel<T>({
  title,
  testId,
  loaded,
  children,
  extra,
}: {
  title: string;
  testId: string;
  loaded: Loaded<T>;
  children: (data: T) => ReactNode;
  extra?: ReactNode;
}) {
  let body: ReactNode;
  if (loaded.error !== undefined && !(loaded.data !== undefined && !isMissing(loaded.error))) {
    body = isMissing(loaded.error) ? (
      <p className="muted not-available">Not available: this server does not serve it yet.</p>
    ) : (
      <p className="error-banner">Could not read it: {errorText(loaded.error)}</p>
    );
  } else if (loaded.data === undefined) body = <p className="muted">Loading…</p>;
  else body = children(loaded.data);
  return (
    <section className="panel" data-testid={testId}>
      <h2>
        {title}
        {extra}
      </h2>
      {body}
    </section>
  );
}

function isMissing(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || err.status === 501);
}
