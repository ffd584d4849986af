// The errors of the model layer. Each carries what a caller needs to tell the user exactly what
// is wrong (the API maps them to gRPC status codes with field details).

export interface FieldProblem {
  /** The field as the caller names it: a column name (`network_id`), `filter[0].value`, ... */
  field: string;
  reason: string;
  /** For bulk writes: the position of the object the problem belongs to. */
  index?: number;
}

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: every problem found, each naming its field. Nothing was written. */
export class ValidationError extends ModelError {
  readonly model: string;
  readonly errors: FieldProblem[];

  constructor(model: string, errors: FieldProblem[]) {
    const text = errors
      .map((e) => `${e.index === undefined ? '' : `[${String(e.index)}] `}${e.field}: ${e.reason}`)
      .join('; ');
    super(`invalid ${model}: ${text}`);
    this.model = model;
    this.errors = errors;
  }
}

/** A unique set (a name per trust domain, an address per network) is already taken. */
export class AlreadyExistsError extends ValidationError {
  /** The object holding the value, when it could be found. */
  readonly holder: { model: string; id: number } | undefined;

  constructor(
    model: string,
    field: string,
    reason: string,
    holder?: { model: string; id: number },
  ) {
    super(model, [{ field, reason }]);
    this.holder = holder;
  }
}

export class NotFoundError extends ModelError {
  constructor(
    readonly model: string,
    readonly id: number,
  ) {
    super(`no ${model} with id ${String(id)}`);
  }
}

/** An update or delete named a version that is no longer current: re-read and retry. */
export class ConflictError extends ModelError {
  constructor(
    readonly model: string,
    readonly id: number,
    readonly expectedVersion: number,
    readonly currentVersion: number,
    readonly current: Record<string, unknown>,
  ) {
    super(
      `${model} ${String(id)} is at version ${String(currentVersion)}, not ${String(expectedVersion)}: it was changed since it was read`,
    );
  }
}

/** The operation cannot run in the object's present state (in use, write-protected, ...). */
export class PreconditionError extends ModelError {
  constructor(
    readonly model: string,
    readonly id: number,
    reason: string,
    readonly blockers: { model: string; id: number }[] = [],
  ) {
    super(`${model} ${String(id)}: ${reason}`);
  }
}

/** A watch asked to resume from a cursor whose changes were pruned: re-list, then watch. */
export class CursorExpiredError extends ModelError {
  constructor(
    readonly cursor: string,
    readonly horizon: string,
  ) {
    super(
      `cursor ${cursor} is older than the change log (it starts after ${horizon}): list the objects again and watch from the cursor the list returns`,
    );
  }
}
