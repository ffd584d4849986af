// gRPC helpers shared by the VTN server and the model API.
import type * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';

interface FieldDescriptor {
  name: string;
  typeName?: string;
}
interface MessageDescriptor {
  name: string;
  options?: { mapEntry?: boolean };
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: { name: string }[];
}
interface FileDescriptor {
  name: string;
  package?: string;
  dependency: string[];
  messageType?: MessageDescriptor[];
  enumType?: { name: string }[];
  service?: { method?: { inputType?: string; outputType?: string }[] }[];
}
interface DescriptorCodec {
  decode(b: Uint8Array): FileDescriptor;
  encode(d: FileDescriptor): { finish(): Uint8Array };
}

/**
 * protobufjs describes each package as a file of its own, without its imports and with type
 * names relative to where they are used, so a reflection client (grpcurl) cannot resolve a type
 * from another package (cordvtn's messages use net.HostIdProto). This makes every type name
 * fully qualified, by protobuf's scoping rules, and lists the files they come from as imports.
 * (Written here: neither proto-loader nor @grpc/reflection does it, and protoc is not a run-time
 * dependency we want.)
 */
export function resolvableDescriptors(definition: protoLoader.PackageDefinition): void {
  const require = createRequire(import.meta.url);
  const codec = (require('protobufjs/ext/descriptor') as { FileDescriptorProto: DescriptorCodec })
    .FileDescriptorProto;
  const buffers = new Set<Buffer>();
  for (const def of Object.values(definition)) {
    const protos = (def as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    for (const b of protos ?? []) buffers.add(b);
  }
  const files = [...buffers].map((b) => ({ buffer: b, file: codec.decode(b) }));
  // Map entries are named <Field>Entry (protoc's name, which reflection clients check).
  const renameEntries = (m: MessageDescriptor) => {
    for (const n of m.nestedType ?? []) {
      if (!n.options?.mapEntry) continue;
      const field = (m.field ?? []).find((f) => f.typeName === n.name);
      if (!field) continue;
      const camel = field.name.replace(/(?:^|_)([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      n.name = `${camel}Entry`;
      field.typeName = n.name;
    }
    for (const n of m.nestedType ?? []) renameEntries(n);
  };
  for (const { file } of files) for (const m of file.messageType ?? []) renameEntries(m);
  // Every type's fully qualified name, and the file that holds it.
  const owner = new Map<string, string>();
  for (const { file } of files) {
    const pkg = file.package ? `.${file.package}` : '';
    const walk = (scope: string, m: MessageDescriptor) => {
      const name = `${scope}.${m.name}`;
      owner.set(name, file.name);
      for (const e of m.enumType ?? []) owner.set(`${name}.${e.name}`, file.name);
      for (const n of m.nestedType ?? []) walk(name, n);
    };
    for (const m of file.messageType ?? []) walk(pkg, m);
    for (const e of file.enumType ?? []) owner.set(`${pkg}.${e.name}`, file.name);
  }
  const resolve = (scope: string, name: string | undefined, deps: Set<string>, self: string) => {
    if (!name || name.startsWith('.')) return name;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      const candidate = `${s}.${name}`;
      const file = owner.get(candidate);
      if (file !== undefined) {
        if (file !== self) deps.add(file);
        return candidate;
      }
      if (!s) return name;
    }
  };
  const fixed = new Map<Buffer, Buffer>();
  for (const { buffer, file } of files) {
    const pkg = file.package ? `.${file.package}` : '';
    const deps = new Set<string>(file.dependency);
    const walk = (scope: string, m: MessageDescriptor) => {
      const name = `${scope}.${m.name}`;
      for (const f of m.field ?? []) f.typeName = resolve(name, f.typeName, deps, file.name);
      for (const n of m.nestedType ?? []) walk(name, n);
    };
    for (const m of file.messageType ?? []) walk(pkg, m);
    for (const svc of file.service ?? []) {
      for (const method of svc.method ?? []) {
        method.inputType = resolve(pkg, method.inputType, deps, file.name);
        method.outputType = resolve(pkg, method.outputType, deps, file.name);
      }
    }
    file.dependency = [...deps];
    fixed.set(buffer, Buffer.from(codec.encode(file).finish()));
  }
  for (const def of Object.values(definition)) {
    const d = def as { fileDescriptorProtos?: Buffer[] };
    if (d.fileDescriptorProtos) {
      d.fileDescriptorProtos = d.fileDescriptorProtos.map((b) => fixed.get(b) ?? b);
    }
  }
}
