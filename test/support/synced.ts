// Waiting for an object to be synchronized at its version, with its status in the failure.
import type { ModelObject, ModelService } from '../../models/service.js';
import { eventually } from './rig.js';

/**
 * The object once backend_code is 1 at its current version; on timeout, an error that says
 * where it is (backend_code and status) and, when given, the last lines of a log.
 */
export async function synced(
  svc: ModelService,
  model: string,
  id: number,
  options: { timeoutMs?: number; log?: string[] } = {},
): Promise<ModelObject> {
  try {
    return await eventually(
      `${model} ${String(id)} synced`,
      async () => {
        const o = await svc.get(model, id, { includeDeleted: true });
        return o.backend_code === 1 && o.synced_version === o.version ? o : undefined;
      },
      options.timeoutMs ?? 30_000,
    );
  } catch (err) {
    const o = await svc.get(model, id, { includeDeleted: true });
    const log = options.log?.length ? `; log: ${options.log.slice(-5).join(' | ')}` : '';
    throw new Error(
      `${(err as Error).message}; it is at backend_code ${String(o.backend_code)}: ${String(o.backend_status)}${log}`,
      { cause: err },
    );
  }
}
