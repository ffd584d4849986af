// What the VTN steps' observe (management_policy observe) and release (deletion_policy orphan)
// share: the "differs from the model" part of an observed sentence.

/** One field as VTN has it and as the model says it. */
export type Compared = [label: string, have: string, want: string];

/**
 * `; differs from the model: type FLAT (model PRIVATE), ...` for the fields whose values differ,
 * or nothing when VTN has what the model says.
 */
export function differences(fields: Compared[]): string {
  const differ = fields
    .filter(([, have, want]) => have !== want)
    .map(([label, have, want]) => `${label} ${have || 'none'} (model ${want || 'none'})`);
  return differ.length ? `; differs from the model: ${differ.join(', ')}` : '';
}
