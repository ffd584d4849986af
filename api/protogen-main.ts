// npm run protos: regenerates protos/syncord/v1/models.proto (and its field numbers) from the
// model registry.
import { defaultRegistry } from '../models/index.js';
import { API_PROTO_FILE, writeApiProto } from './protogen.js';

const changed = writeApiProto(defaultRegistry());
console.log(
  changed.proto || changed.numbers ? `wrote ${API_PROTO_FILE}` : `${API_PROTO_FILE} is up to date`,
);
