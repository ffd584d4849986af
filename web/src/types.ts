// The gateway's JSON, as web/README.md ("What the gateway serves for the page") describes it.
// Parsed once at the edge (api.ts); the pages trust these types.

/** A model object as the gateway sends it: field names as in objects (network_id, ...). */
export type Obj = Record<string, unknown> & { id: number };

export type Role = 'admin' | 'operator' | 'viewer';

export interface WhoAmI {
  id: number;
  name: string;
  role: Role;
  trust_domain_id?: number;
}

export interface LoginResponse {
  token: string;
  expires_at?: string;
  user: WhoAmI;
}

export type FieldType =
  | 'string'
  | 'text'
  | 'integer'
  | 'float'
  | 'boolean'
  | 'json'
  | 'ip'
  | 'cidr'
  | 'mac'
  | 'timestamp'
  | 'choice'
  | 'reference'
  | 'password';

export interface FieldInfo {
  /** As in objects: owner_id. */
  name: string;
  /** The registry's: owner. */
  field: string;
  type: FieldType;
  required: boolean;
  default?: unknown;
  choices?: string[];
  /** For references: the model referred to. */
  reference?: string;
  read_only: boolean;
  feedback: boolean;
  bookkeeping: boolean;
  max_length?: number;
  help?: string;
  /** A credential: the API never returns it; a form may set it. */
  secret?: boolean;
}

export interface ModelInfo {
  name: string;
  parent: string | null;
  abstract: boolean;
  /** Itself and every model that extends it. */
  family: string[];
  /** Whether a synchronizer step reconciles it. */
  synced: boolean;
  policed: boolean;
  name_required: boolean;
  unique_together: string[][];
  fields: FieldInfo[];
}

export interface ListResponse {
  items: Obj[];
  next_page_token: string;
  /** How many objects match the filter (absent from gateways before the GUI's). */
  total_size?: number;
}

export type ChangeOp = 'create' | 'update' | 'status' | 'delete' | 'reap';

export interface WatchEvent {
  cursor: string;
  model: string;
  id: number;
  op: ChangeOp;
  version: number;
  committed_at: string;
  /** The object after the change; absent once reaped. */
  object?: Obj;
}

export interface HistoryEntry {
  at: string;
  backend_code: number;
  backend_status: string;
  version: number;
  synced_version: number;
  failures: number;
  next_attempt_at: string | null;
}

export interface BackendObject {
  backend: string;
  kind: string;
  name: string;
  namespace?: string;
  cluster?: string;
  detail?: string;
}

export interface Dependent {
  model: string;
  field: string;
  id: number;
  name: string;
}

export interface StatusCounts {
  total: number;
  pending: number;
  ok: number;
  error: number;
  retrying: number;
  deleting: number;
}

export interface Stats {
  models: Record<string, StatusCounts>;
  synchronizer?: {
    leader: boolean;
    queue_depth: number;
    reconciles: { ok: number; error: number };
    uptime_s: number;
  };
}

export interface RecipeFile {
  name: string;
  content: string;
}

export interface Problem {
  file: string;
  line: number;
  col: number;
  template?: string;
  field?: string;
  reason: string;
}

export type OutcomeAction =
  'created' | 'updated' | 'unchanged' | 'found' | 'deleted' | 'absent' | 'kept';

export interface Outcome {
  template: string;
  model: string;
  id: number;
  name: string;
  action: OutcomeAction;
  fields: string[];
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** The gateway's error body. */
export interface ErrorBody {
  code: string;
  message: string;
  field_violations?: FieldViolation[];
  problems?: Problem[];
}
