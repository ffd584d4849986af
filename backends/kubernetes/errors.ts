// Kubernetes errors as one sentence an operator can act on: the apiserver's own reason (a quota,
// an invalid field, a missing namespace), the object it was about, and the HTTP code kept for the
// callers that branch on it (404 gone, 409 conflict, 403 refused by admission, 422 invalid).

/** What the apiserver sends back with a refusal: a `Status` object. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** The object a request was about, for the sentence: `Pod vnf-1`, `Namespace tenant-a`. */
export interface Subject {
  kind: string;
  name?: string;
  namespace?: string;
}

export class KubernetesError extends Error {
  constructor(
    message: string,
    /** The HTTP status code, or undefined when the apiserver could not be reached. */
    readonly code: number | undefined,
    /** The Status reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, ... */
    readonly reason: string | undefined,
    readonly status: ApiStatus | undefined,
  ) {
    super(message);
    this.name = 'KubernetesError';
  }

  get notFound(): boolean {
    return this.code === 404;
  }

  /** A 404 about a missing namespace (not about the object itself). */
  get namespaceMissing(): boolean {
    return this.code === 404 && this.status?.details?.kind === 'namespaces';
  }
}

const describe = (s: Subject) =>
  s.name ? `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}` : `${s.kind}s`;

function parseStatus(body: unknown): ApiStatus | undefined {
  if (typeof body === 'string') {
    const text = body.trim();
    try {
      return parseStatus(JSON.parse(text));
    } catch {
      return text ? { message: text } : undefined;
    }
  }
  return typeof body === 'object' && body !== null ? body : undefined;
}

/**
 * The apiserver's message without its own prefix naming the object (`pods "vnf-1" is forbidden: `),
 * which the sentence names already.
 */
function reasonText(status: ApiStatus): string {
  const message = (status.message ?? '').trim();
  const m = /^[\w.]+ "[^"]*" is (?:forbidden|invalid): (.*)$/s.exec(message);
  return (m ? m[1]! : message) || status.reason || 'no reason given';
}

/** Turns whatever the client threw into a KubernetesError naming the object. */
export function translateError(err: unknown, subject: Subject, server?: string): KubernetesError {
  if (err instanceof KubernetesError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: unknown; statusCode?: unknown };
  const code =
    typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : NaN;
  const text = typeof e.message === 'string' ? e.message : '';
  const discovery = /Failed to fetch resource metadata for ([^:]*):/.exec(text);
  if ((discovery && code === 404) || /Unrecognized API version and kind/.test(text)) {
    // "example.com/v1/Widget" or "example.com/v1 Widget": the API version and the kind.
    const what = (
      discovery ? discovery[1]! : text.replace(/^.*Unrecognized API version and kind: /, '')
    ).replace(/\/([^/]*)$/, ' $1');
    return new KubernetesError(
      `the cluster${server ? ` at ${server}` : ''} does not serve ${subject.kind} (${what}): is its CRD installed?`,
      404,
      'NotFound',
      undefined,
    );
  }
  if (Number.isInteger(code) && code >= 100 && code < 600) {
    const status = parseStatus(e.body) ?? {};
    const what = describe(subject);
    let sentence: string;
    if (code === 401) {
      sentence = `the apiserver${server ? ` at ${server}` : ''} refused Syncord's credentials (401 Unauthorized) for ${what}`;
    } else if (code === 422 || status.reason === 'Invalid') {
      const causes = (status.details?.causes ?? [])
        .map((c) => [c.field, c.message].filter(Boolean).join(': '))
        .filter(Boolean);
      sentence = `${what} is invalid: ${causes.length ? causes.join('; ') : reasonText(status)}`;
    } else if (code >= 500) {
      sentence = `the apiserver failed on ${what} (${String(code)}${status.reason ? ` ${status.reason}` : ''}): ${reasonText(status)}`;
    } else {
      sentence = `${what} refused by the apiserver: ${reasonText(status)}`;
    }
    return new KubernetesError(sentence, code, status.reason, status);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new KubernetesError(
      `the Kubernetes apiserver${server ? ` at ${server}` : ''} did not answer in time for ${describe(subject)} (the request was abandoned after SYNCORD_KUBE_TIMEOUT_MS, default 30 s)`,
      undefined,
      'Timeout',
      undefined,
    );
  }
  return new KubernetesError(
    `cannot reach the Kubernetes apiserver${server ? ` at ${server}` : ''} for ${describe(subject)}: ${message}`,
    undefined,
    undefined,
    undefined,
  );
}

/** Anything thrown, as an Error. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error('unknown error');
  }
}
