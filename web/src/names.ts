// Names of referenced objects, so that a table shows "rcord-wan" rather than "#2": read in
// batches (GET {Model}?id__in=...) and kept for the session. A gateway without id__in leaves
// the ids shown.
import { createContext, useContext, useEffect, useSyncExternalStore } from 'react';
import type { Api } from './api';
import type { FieldInfo, Obj } from './types';

export class NameCache {
  private readonly names = new Map<string, string>();
  private readonly asked = new Set<string>();
  private readonly unsupported = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private version = 0;

  constructor(private readonly api: Api) {}

  get(model: string, id: number): string | undefined {
    return this.names.get(`${model}/${String(id)}`);
  }

  /** Remembers a name seen elsewhere (a page's objects, a watch event). */
  put(model: string, id: number, name: unknown): void {
    if (typeof name !== 'string' || !name) return;
    const key = `${model}/${String(id)}`;
    if (this.names.get(key) === name) return;
    this.names.set(key, name);
    this.bump();
  }

  /** Reads the names not known yet (at most 500 at once). */
  request(model: string, ids: readonly number[]): void {
    if (this.unsupported.has(model)) return;
    const wanted = [...new Set(ids)].filter((id) => {
      const key = `${model}/${String(id)}`;
      return id > 0 && !this.asked.has(key);
    });
    if (!wanted.length) return;
    const batch = wanted.slice(0, 500);
    for (const id of batch) this.asked.add(`${model}/${String(id)}`);
    const q = new URLSearchParams({ id__in: batch.join(','), page_size: String(batch.length) });
    this.api.list(model, q).then(
      (page) => {
        for (const o of page.items) this.put(model, o.id, o.name);
      },
      () => {
        this.unsupported.add(model);
      },
    );
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  snapshot = (): number => this.version;

  private bump(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}

/** The ids the reference fields of these objects name, per referenced model. */
export function refsOf(
  fields: readonly FieldInfo[],
  objects: readonly Obj[],
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of fields) {
    if (f.type !== 'reference' || !f.reference) continue;
    const ids = objects.map((o) => o[f.name]).filter((v) => typeof v === 'number');
    out[f.reference] = [...(out[f.reference] ?? []), ...ids];
  }
  return out;
}

export const NamesContext = createContext<NameCache | null>(null);

const none = () => () => undefined;

/**
 * The name cache, re-rendering the caller when names arrive; asks for the names of `wanted`
 * (per model, the ids) once they are known.
 */
export function useNames(wanted: Record<string, number[]> = {}): NameCache | null {
  const cache = useContext(NamesContext);
  useSyncExternalStore(cache?.subscribe ?? none, cache?.snapshot ?? (() => 0));
  const key = JSON.stringify(wanted);
  useEffect(() => {
    if (!cache) return;
    const w = JSON.parse(key) as Record<string, number[]>;
    for (const [model, ids] of Object.entries(w)) cache.request(model, ids);
  }, [cache, key]);
  return cache;
}
