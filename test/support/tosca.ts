// Example recipes made unique to a test run, so that runs on one rig do not meet.

/**
 * This run's version of a recipe: its trust domains (Kubernetes namespaces) and VNIs (global in
 * VTN) made unique.
 */
export function uniquify(text: string, run: string): string {
  const base = 2_000_000 + (process.pid % 100_000) * 10;
  let n = 0;
  return text
    .replace(/trustdomain#([\w-]+)/g, `trustdomain#$1-${run}`)
    .replace(/segment_id: \d+/g, () => `segment_id: ${String(base + n++)}`);
}
