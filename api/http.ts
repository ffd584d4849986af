// The gateway's HTTP plumbing: JSON bodies both ways, and errors as
// {"code", "message", "field_violations": [{"field", "description"}]} with the HTTP status of
// the gRPC code.
import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { recipeProblemsOf, statusDetailsOf } from './server.js';

type Obj = Record<string, unknown>;

export const HTTP_STATUS: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.FAILED_PRECONDITION]: 412,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNIMPLEMENTED]: 501,
};

export interface Violation {
  field: string;
  description: string;
}

/** A refusal of the gateway's own (a bad path, query or body), before or after a handler. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly violations: Violation[] = [],
  ) {
    super(message);
  }
}

/** A 400 for one bad parameter, naming it and the reason. */
export const badParameter = (parameter: string, reason: string): HttpError =>
  new HttpError(400, 'INVALID_ARGUMENT', `${parameter}: ${reason}`, [
    { field: parameter, description: reason },
  ]);

export function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** The field violations (and, for recipes, the problems) of a handler's status. */
export function detailsOf(err: Partial<grpc.StatusObject>): {
  violations: Violation[];
  problems: ReturnType<typeof recipeProblemsOf>;
} {
  return {
    violations: err.metadata ? statusDetailsOf(err.metadata) : [],
    problems: err.metadata ? recipeProblemsOf(err.metadata) : undefined,
  };
}

export function sendStatus(res: http.ServerResponse, err: Partial<grpc.StatusObject>): void {
  const code = err.code ?? grpc.status.INTERNAL;
  const { violations, problems } = detailsOf(err);
  send(res, HTTP_STATUS[code] ?? 500, {
    code: grpc.status[code],
    message: err.details ?? '',
    ...(violations.length ? { field_violations: violations } : {}),
    ...(problems ? { problems } : {}),
  });
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err instanceof HttpError) {
    send(res, err.status, {
      code: err.code,
      message: err.message,
      ...(err.violations.length ? { field_violations: err.violations } : {}),
    });
  } else if (err && typeof err === 'object' && 'code' in err) {
    sendStatus(res, err as Partial<grpc.StatusObject>);
  } else {
    send(res, 500, {
      code: 'INTERNAL',
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

const MAX_BODY = 4 * 1024 * 1024;

export async function readJson(req: http.IncomingMessage): Promise<Obj> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'RESOURCE_EXHAUSTED', 'the body is over 4 MiB');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Obj;
  } catch (err) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `the body is not a JSON object: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
