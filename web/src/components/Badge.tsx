// The status pill: data-status is the badge (ok, pending, error, retrying, deleting, no-sync),
// the title its reason (web/README.md, "The status badge").
import { useClock } from '../hooks';
import { statusOf, type Badge, type Bookkeeping } from '../status';

export function Pill({
  badge,
  label,
  title,
  testId,
}: {
  badge: Badge;
  label: string;
  title: string;
  testId?: string;
}) {
  return (
    <span className={`badge badge-${badge}`} data-status={badge} title={title} data-testid={testId}>
      {label}
    </span>
  );
}

/** An object's badge; `model` names it in the test id (status-<Model>-<id>). */
export function StatusBadge({
  model,
  obj,
  synced,
  withReason = false,
}: {
  model: string;
  obj: Bookkeeping & { id: number };
  synced: boolean;
  withReason?: boolean;
}) {
  const now = useClock();
  const s = statusOf(obj, synced, now);
  const pill = (
    <Pill
      badge={s.badge}
      label={s.label}
      title={s.reason}
      testId={`status-${model}-${String(obj.id)}`}
    />
  );
  if (!withReason) return pill;
  return (
    <span className="status-with-reason">
      {pill}
      {s.reason && <span className="reason">{s.reason}</span>}
    </span>
  );
}
