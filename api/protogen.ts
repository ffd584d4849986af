// The model API's protobuf contract, generated from the model registry: a message per model
// (its bookkeeping, then its fields, named as the model service names them: a reference is
// `<field>_id`), and one ModelService with List, Get, Create, Update and Delete per model, as
// XOS's gRPC API had them (ListSlice, GetSlice, ...).
//
// Field numbers never move: `field-numbers.json` next to the proto remembers the number of every
// model field ever generated; a new field takes the next free number of its message, a removed
// one is `reserved`, so that a client built against an older proto keeps reading and writing the
// fields both know. `npm run protos` regenerates both files; a test fails when they are stale.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../models/package-root.js';
import type { FieldDef, Registry, ResolvedModel } from '../models/registry.js';
import { columnOf } from '../models/schema.js';

export const API_PROTO_DIR = join(PACKAGE_ROOT, 'protos', 'syncord', 'v1');
export const API_PROTO_FILE = `${API_PROTO_DIR}/models.proto`;
export const FIELD_NUMBERS_FILE = `${API_PROTO_DIR}/field-numbers.json`;
export const API_PACKAGE = 'syncord.v1';

/**
 * Bookkeeping every message has, with fixed numbers below FIRST_FIELD (those added once model
 * fields were numbered from FIRST_FIELD up take numbers from 1000).
 */
export const BOOKKEEPING_FIELDS: {
  name: string;
  type: string;
  number: number;
  optional?: boolean;
  readOnly: boolean;
  comment: string;
}[] = [
  { name: 'id', type: 'int32', number: 1, readOnly: true, comment: 'Assigned on create.' },
  { name: 'name', type: 'string', number: 2, optional: true, readOnly: false, comment: '' },
  {
    name: 'leaf_model',
    type: 'string',
    number: 3,
    readOnly: true,
    comment: "The object's own model (a VNFServiceInstance read as a ServiceInstance says so).",
  },
  {
    name: 'version',
    type: 'int32',
    number: 4,
    readOnly: true,
    comment: 'Bumped by every edit; Update and Delete may name it (expected_version).',
  },
  { name: 'created_at', type: 'google.protobuf.Timestamp', number: 5, readOnly: true, comment: '' },
  { name: 'updated_at', type: 'google.protobuf.Timestamp', number: 6, readOnly: true, comment: '' },
  {
    name: 'no_sync',
    type: 'bool',
    number: 7,
    optional: true,
    readOnly: false,
    comment: 'Keep the synchronizer off this object.',
  },
  {
    name: 'write_protect',
    type: 'bool',
    number: 8,
    optional: true,
    readOnly: false,
    comment: 'Refuse edits and deletes.',
  },
  {
    name: 'backend_code',
    type: 'int32',
    number: 9,
    readOnly: true,
    comment: "The synchronizer's: 0 pending, 1 ok, 2 error.",
  },
  {
    name: 'backend_status',
    type: 'string',
    number: 10,
    readOnly: true,
    comment: 'What was done, what it waits for, or the error.',
  },
  {
    name: 'failures',
    type: 'int32',
    number: 11,
    readOnly: true,
    comment: 'Failed attempts in a row.',
  },
  {
    name: 'next_attempt_at',
    type: 'google.protobuf.Timestamp',
    number: 12,
    readOnly: true,
    comment: 'When it retries after an error.',
  },
  {
    name: 'synced_version',
    type: 'int32',
    number: 13,
    readOnly: true,
    comment: 'The version the backend has.',
  },
  { name: 'policed_version', type: 'int32', number: 14, readOnly: true, comment: '' },
  { name: 'policy_code', type: 'int32', number: 15, readOnly: true, comment: '' },
  { name: 'policy_status', type: 'string', number: 16, readOnly: true, comment: '' },
  {
    name: 'deleted_at',
    type: 'google.protobuf.Timestamp',
    number: 17,
    readOnly: true,
    comment: 'Set while a deleted object is torn down.',
  },
  {
    name: 'management_policy',
    type: 'string',
    number: 18,
    optional: true,
    readOnly: false,
    comment:
      'full (default): create, update and repair the backend; observe: only read it into status,\n' +
      'never write it; create-only: create it once, apply no later edit.',
  },
  {
    name: 'deletion_policy',
    type: 'string',
    number: 19,
    optional: true,
    readOnly: false,
    comment:
      'delete (default): deleting the object tears its backend objects down; orphan: it takes\n' +
      "Syncord's owner marks off them and leaves them running (their addresses stay held).",
  },
  {
    name: 'backend_handle',
    type: 'google.protobuf.Value',
    number: 1000,
    readOnly: true,
    comment:
      'Adopted objects (syncord adopt): the backend objects they were made from, by\n' +
      '"<backend>/<kind>", e.g. {"ovn/Logical_Switch": "ls1"}. Numbered apart from model fields.',
  },
];
export const FIRST_FIELD = 20;

/** The proto type of a model field. */
export function protoType(def: FieldDef): string {
  switch (def.type) {
    case 'integer':
    case 'reference':
      return 'int32';
    case 'float':
      return 'double';
    case 'boolean':
      return 'bool';
    case 'json':
      return 'google.protobuf.Value';
    case 'timestamp':
      return 'google.protobuf.Timestamp';
    default:
      return 'string';
  }
}

const MESSAGE_TYPES = new Set(['google.protobuf.Value', 'google.protobuf.Timestamp']);

export interface FieldNumbers {
  /** Per message: field name → number. */
  numbers: Record<string, Record<string, number>>;
  /** Per message: numbers and names no longer used, never to be reused. */
  reserved: Record<string, { numbers: number[]; names: string[] }>;
}

export interface ApiField {
  name: string;
  def: FieldDef;
  number: number;
  type: string;
}

/** A model's API fields (its own and inherited), numbered from the lock. */
export function apiFields(m: ResolvedModel, lock: FieldNumbers): ApiField[] {
  const numbers = lock.numbers[m.name] ?? {};
  return Object.entries(m.allFields).map(([field, def]) => {
    const name = columnOf(field, def);
    const number = numbers[name];
    if (number === undefined) throw new Error(`${m.name}.${name} has no field number`);
    return { name, def, number, type: protoType(def) };
  });
}

export function readFieldNumbers(file = FIELD_NUMBERS_FILE): FieldNumbers {
  if (!existsSync(file)) return { numbers: {}, reserved: {} };
  return JSON.parse(readFileSync(file, 'utf8')) as FieldNumbers;
}

/** The lock brought up to the registry: new fields numbered, removed ones reserved. */
export function updateFieldNumbers(registry: Registry, old: FieldNumbers): FieldNumbers {
  const next: FieldNumbers = { numbers: {}, reserved: {} };
  for (const m of registry.models()) {
    const before = old.numbers[m.name] ?? {};
    const was = old.reserved[m.name];
    const reserved = { numbers: [...(was?.numbers ?? [])], names: [...(was?.names ?? [])] };
    const current: Record<string, number> = {};
    let max = Math.max(FIRST_FIELD - 1, ...Object.values(before), ...reserved.numbers);
    for (const [field, def] of Object.entries(m.allFields)) {
      const name = columnOf(field, def);
      current[name] = before[name] ?? ++max;
    }
    for (const [name, number] of Object.entries(before)) {
      if (current[name] === undefined) {
        reserved.numbers.push(number);
        reserved.names.push(name);
      }
    }
    // A name that is back (with a new number) is no longer reserved; its old number stays so.
    reserved.names = reserved.names.filter((n) => current[n] === undefined);
    if (reserved.numbers.length) next.reserved[m.name] = reserved;
    next.numbers[m.name] = current;
  }
  return next;
}

const comment = (text: string, indent: string) =>
  text
    ? text
        .split('\n')
        .map((l) => `${indent}// ${l}`)
        .join('\n') + '\n'
    : '';

function fieldComment(def: FieldDef, readOnly: boolean): string {
  const parts: string[] = [];
  if (def.help) parts.push(def.help.replace(/\.$/, ''));
  if (def.required) parts.push('required');
  if (def.choices) parts.push(`one of ${def.choices.join(', ')}`);
  if (def.reference) parts.push(`a ${def.reference.model} id`);
  if (def.immutable) parts.push('set on create only');
  if (def.type === 'password' || def.secret === true) parts.push('write-only: never returned');
  if (readOnly) parts.push('read-only: the synchronizer reports it');
  if (def.default !== undefined && def.default !== null && typeof def.default !== 'object') {
    parts.push(`default ${JSON.stringify(def.default)}`);
  }
  return parts.length ? `${parts.join('; ')}.` : '';
}

/** The proto text for the registry, with the field numbers of `lock`. */
export function renderProto(registry: Registry, lock: FieldNumbers): string {
  const out: string[] = [];
  out.push(`// GENERATED by api/protogen.ts from the model registry (npm run protos). Do not edit.
//
// Syncord's model API: a message per model and a ModelService with List, Get, Create, Update and
// Delete per model. Every call but Login needs "authorization: Bearer <token>" (UNAUTHENTICATED
// without); roles: viewers read, operators also write, admins also manage users, roles and
// tokens; a user limited to a trust domain sees its objects and the shared ones and writes only
// its own (PERMISSION_DENIED; objects of another trust domain read as NOT_FOUND). Errors are
// standard gRPC status codes, with google.rpc.BadRequest field violations for bad input:
// INVALID_ARGUMENT (a field and the reason), NOT_FOUND, ALREADY_EXISTS (a unique name or
// address taken, naming its holder), ABORTED (expected_version is stale: read again),
// FAILED_PRECONDITION (in use, write-protected). Read-only fields (the synchronizer's
// bookkeeping and feedback) are refused in writes. Field numbers are stable across versions
// (field-numbers.json).
syntax = "proto3";

package ${API_PACKAGE};

import "google/protobuf/any.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";

// A condition of a List: field op value. op is eq (default), ne, lt, le, gt, ge, in (value a
// list), contains (text), isnull, notnull.
message Filter {
  string field = 1;
  string op = 2;
  google.protobuf.Value value = 3;
}

message OrderBy {
  string field = 1;
  bool desc = 2;
}

message ListRequest {
  repeated Filter filter = 1;
  repeated OrderBy order_by = 2;
  // Default 100, at most 5000.
  int32 page_size = 3;
  // From the previous page's next_page_token.
  string page_token = 4;
  // Only objects with this status, as the GUI's badge shows it: pending, ok, error, retrying
  // (failures and a retry time ahead) or deleting (deleted_at set: the only way to list deleted
  // objects). Empty: every live object.
  string status = 5;
}

message GetRequest {
  int32 id = 1;
}

message DeleteRequest {
  int32 id = 1;
  // Refuse (ABORTED) unless the object is at this version.
  optional int32 expected_version = 2;
}

message DeleteResponse {
  int32 id = 1;
  // The object as it is now: deleted_at set while its backends are torn down.
  int32 version = 2;
}

message LoginRequest {
  string username = 1;
  string password = 2;
}

message LoginResponse {
  // Send it as "authorization: Bearer <token>" on every call.
  string token = 1;
  google.protobuf.Timestamp expires_at = 2;
  WhoAmIResponse user = 3;
}

message LogoutRequest {}

message LogoutResponse {}

message WhoAmIRequest {}

message WhoAmIResponse {
  int32 id = 1;
  string name = 2;
  // admin, operator or viewer.
  string role = 3;
  // The trust domain the user is limited to; absent: every trust domain.
  optional int32 trust_domain_id = 4;
}

message ToscaFile {
  // Its name, for the errors (file:line:col).
  string name = 1;
  // The recipe's YAML.
  string content = 2;
}

message ToscaRequest {
  repeated ToscaFile files = 1;
  // Report what would change, and change nothing.
  bool dry_run = 2;
}

message ToscaOutcome {
  string template = 1;
  string model = 2;
  int32 id = 3;
  string name = 4;
  // created, updated, unchanged, found (must-exist), deleted, absent.
  string action = 5;
  repeated string fields = 6;
}

message ToscaResponse {
  repeated ToscaOutcome outcomes = 1;
}

// A problem of a recipe, where it is. An INVALID_ARGUMENT status of ApplyTosca or DeleteTosca
// carries them (a ToscaProblems in its details) besides the field violations.
message ToscaProblem {
  string file = 1;
  int32 line = 2;
  int32 col = 3;
  // The node template's name, when the problem is in one.
  string template = 4;
  // The property or requirement, when the problem is in one.
  string field = 5;
  string reason = 6;
}

message ToscaProblems {
  // Empty: the recipes are valid.
  repeated ToscaProblem problems = 1;
}

// Which backend objects to look at for adoption (syncord adopt), and for Adopt which to adopt.
message AdoptRequest {
  // Only these backends (kubernetes, ovn, vtn, openstack); empty: every one configured.
  repeated string backends = 1;
  // Only these backend kinds (Pod, Logical_Switch, Logical_Switch_Port, ...); empty: all.
  repeated string kinds = 2;
  // Kubernetes: only this namespace.
  string namespace = 3;
  // Kubernetes: a label selector (app=web,tier!=db).
  string selector = 4;
  // Adopt: the candidates' keys, as ListAdoptable gives them; empty: every one without a problem.
  repeated string keys = 5;
  // Adopt: the adopted objects' management_policy (default full) and deletion_policy (delete).
  string management_policy = 6;
  string deletion_policy = 7;
  // Ports found alone (an OVN switch port says nothing of whose interface it is): the
  // ServiceInstance they are given, by name or id.
  string instance = 8;
  // The Service that owns what is adopted where a model needs an owner (a namespace's trust
  // domain, a pod's instance), by name or id; default: the first of the kind.
  string service = 9;
}

// A backend object with no Syncord owner mark, and the model it would become.
message AdoptCandidate {
  // Unique: <backend>/<kind>/<namespace/>name.
  string key = 1;
  string backend = 2;
  string kind = 3;
  string name = 4;
  string namespace = 5;
  string cluster = 6;
  // What it is, as observed.
  string detail = 7;
  // The model it would become, and its values (by field; references by id).
  string model = 8;
  google.protobuf.Value values = 9;
  // References to other candidates adopted with it: field -> the candidate's key.
  map<string, string> refs = 10;
  // The backend names the steps will use for it, by "<backend>/<kind>".
  map<string, string> handle = 11;
  // Why it cannot be adopted as it is; empty when it can.
  string problem = 12;
  // What the object is in any backend ("Port mac 0a:58:..."); candidates of one object from
  // several backends are merged into one.
  string identity = 13;
  // A merged candidate: the other backends' keys, each of which names it too.
  repeated string also = 14;
  // Candidates that must be adopted with it (a pod's interfaces), by key.
  repeated string together = 15;
}

message ListAdoptableResponse {
  repeated AdoptCandidate candidates = 1;
  // Backends that could not be listed, and why.
  repeated string failures = 2;
}

message AdoptedObject {
  string key = 1;
  string model = 2;
  int32 id = 3;
  string name = 4;
}

message AdoptResponse {
  repeated AdoptedObject adopted = 1;
}

message WatchRequest {
  // Only objects of these models (each with the models that extend it); empty: every model.
  repeated string models = 1;
  // Resume after this cursor (an earlier event's): every later change comes exactly once, in
  // commit order. Empty: from now on. A cursor older than the change log keeps is OUT_OF_RANGE:
  // list again, then watch from now.
  string from_cursor = 2;
}

message WatchEvent {
  // Where this change sits in the log: resume from it.
  string cursor = 1;
  // The object's own model.
  string model = 2;
  int32 id = 3;
  // create, update, delete (deleted_at set, backends being torn down), status (the
  // synchronizer's bookkeeping or feedback), reap (gone for good).
  string op = 4;
  // The object's version after the change.
  int32 version = 5;
  google.protobuf.Timestamp committed_at = 6;
  // The object as it is when the event is sent (its model's message); absent once reaped.
  google.protobuf.Any object = 7;
}
`);
  for (const m of registry.models()) {
    const fields = apiFields(m, lock);
    out.push('');
    out.push(
      comment(`${m.description}${m.extends ? ` A kind of ${m.extends}.` : ''}`, '').trimEnd(),
    );
    out.push(`message ${m.name} {`);
    for (const b of BOOKKEEPING_FIELDS) {
      const text = b.readOnly ? `${b.comment}${b.comment ? ' ' : ''}Read-only.` : b.comment;
      out.push(comment(text, '  ').trimEnd());
      out.push(`  ${b.optional ? 'optional ' : ''}${b.type} ${b.name} = ${String(b.number)};`);
    }
    for (const f of fields) {
      const text = fieldComment(f.def, f.def.feedback === true);
      if (text) out.push(comment(text, '  ').trimEnd());
      const optional = MESSAGE_TYPES.has(f.type) ? '' : 'optional ';
      out.push(`  ${optional}${f.type} ${f.name} = ${String(f.number)};`);
    }
    const reserved = lock.reserved[m.name];
    if (reserved?.numbers.length) out.push(`  reserved ${reserved.numbers.join(', ')};`);
    if (reserved?.names.length) {
      out.push(`  reserved ${reserved.names.map((n) => `"${n}"`).join(', ')};`);
    }
    out.push('}');
    out.push('');
    out.push(`message List${m.name}Response {`);
    out.push(`  repeated ${m.name} items = 1;`);
    out.push('  // Empty on the last page.');
    out.push('  string next_page_token = 2;');
    out.push('  // How many objects match the filter (all pages).');
    out.push('  int32 total_size = 3;');
    out.push('}');
    out.push('');
    out.push(`message Update${m.name}Request {`);
    out.push('  // Its id names the object; the fields set (or those in update_mask) are written.');
    out.push(`  ${m.name} object = 1;`);
    out.push('  google.protobuf.FieldMask update_mask = 2;');
    out.push('  // Refuse (ABORTED) unless the object is at this version.');
    out.push('  optional int32 expected_version = 3;');
    out.push('}');
  }
  out.push('');
  out.push('service ModelService {');
  out.push('  // A token for a user name and password (the only call without one).');
  out.push('  rpc Login(LoginRequest) returns (LoginResponse);');
  out.push("  // Revokes the call's token.");
  out.push('  rpc Logout(LogoutRequest) returns (LogoutResponse);');
  out.push('  rpc WhoAmI(WhoAmIRequest) returns (WhoAmIResponse);');
  out.push(
    '  // Applies TOSCA recipes in one transaction (INVALID_ARGUMENT, with every problem at',
  );
  out.push('  // file:line:col as a field violation, and nothing applied, when any is wrong).');
  out.push('  rpc ApplyTosca(ToscaRequest) returns (ToscaResponse);');
  out.push('  // Deletes what recipes describe, in reverse order (not their must-exist objects).');
  out.push('  rpc DeleteTosca(ToscaRequest) returns (ToscaResponse);');
  out.push(
    '  // Parses recipes and reports every problem; reads and writes nothing (dry_run is moot).',
  );
  out.push('  rpc ValidateTosca(ToscaRequest) returns (ToscaProblems);');
  out.push(
    '  // Backend objects with no Syncord owner mark that match a model kind, and the models they',
  );
  out.push('  // would become. Reads the backends; writes nothing.');
  out.push('  rpc ListAdoptable(AdoptRequest) returns (ListAdoptableResponse);');
  out.push(
    '  // Adopts candidates in one transaction (FAILED_PRECONDITION naming the candidate and the',
  );
  out.push(
    '  // reason, and nothing adopted, when any is refused); the synchronizer then marks them.',
  );
  out.push('  rpc Adopt(AdoptRequest) returns (AdoptResponse);');
  out.push('  // Every committed change, from now or from a cursor, as a stream.');
  out.push('  rpc Watch(WatchRequest) returns (stream WatchEvent);');
  for (const m of registry.models()) {
    out.push(`  rpc List${m.name}(ListRequest) returns (List${m.name}Response);`);
    out.push(`  rpc Get${m.name}(GetRequest) returns (${m.name});`);
    out.push(`  rpc Create${m.name}(${m.name}) returns (${m.name});`);
    out.push(`  rpc Update${m.name}(Update${m.name}Request) returns (${m.name});`);
    out.push(`  rpc Delete${m.name}(DeleteRequest) returns (DeleteResponse);`);
  }
  out.push('}');
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n') + '\n';
}

/** Writes the proto and the field numbers for the registry; returns what changed. */
export function writeApiProto(registry: Registry): { proto: boolean; numbers: boolean } {
  const lock = updateFieldNumbers(registry, readFieldNumbers());
  const lockText = `${JSON.stringify(lock, null, 2)}\n`;
  const proto = renderProto(registry, lock);
  const changed = {
    proto: !existsSync(API_PROTO_FILE) || readFileSync(API_PROTO_FILE, 'utf8') !== proto,
    numbers:
      !existsSync(FIELD_NUMBERS_FILE) || readFileSync(FIELD_NUMBERS_FILE, 'utf8') !== lockText,
  };
  if (changed.numbers) writeFileSync(FIELD_NUMBERS_FILE, lockText);
  if (changed.proto) writeFileSync(API_PROTO_FILE, proto);
  return changed;
}
