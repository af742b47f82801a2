/**
 * The Avro schema model: parses a writer schema (the `avro.schema` header value) into a
 * small, readonly IR with named types resolved.
 *
 * Follows the Avro 1.12 specification ("Schema Declaration", "Names", "Aliases", "Logical
 * Types"). Named-type references point at the same node, so a recursive schema becomes a
 * cyclic graph here; the columnar mapping refuses it with a clear error.
 */
import { AvroSchemaError } from '../errors.js';

export type AvroPrimitiveKind = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

interface Annotated {
  /** The `logicalType` attribute, if any (interpreted, or ignored, by the mapping). */
  readonly logicalType?: string;
  /** Every other attribute of the schema object (precision, scale, doc, custom keys…). */
  readonly props: Readonly<Record<string, unknown>>;
}

export interface AvroPrimitive extends Annotated {
  readonly kind: AvroPrimitiveKind;
}

export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly hasDefault: boolean;
  readonly default?: unknown;
  readonly aliases: readonly string[];
}

export interface AvroRecord extends Annotated {
  readonly kind: 'record';
  /** Full name (namespace.name). */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly fields: readonly AvroField[];
}

export interface AvroEnum extends Annotated {
  readonly kind: 'enum';
  readonly name: string;
  readonly aliases: readonly string[];
  readonly symbols: readonly string[];
  readonly default?: string;
}

export interface AvroFixed extends Annotated {
  readonly kind: 'fixed';
  readonly name: string;
  readonly aliases: readonly string[];
  readonly size: number;
}

export interface AvroArray extends Annotated {
  readonly kind: 'array';
  readonly items: AvroSchema;
}

export interface AvroMap extends Annotated {
  readonly kind: 'map';
  readonly values: AvroSchema;
}

export interface AvroUnion {
  readonly kind: 'union';
  readonly branches: readonly AvroSchema[];
}

export type AvroNamed = AvroRecord | AvroEnum | AvroFixed;
export type AvroSchema = AvroPrimitive | AvroRecord | AvroEnum | AvroFixed | AvroArray | AvroMap | AvroUnion;

const PRIMITIVES: ReadonlySet<string> = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_KEYS: Record<string, ReadonlySet<string>> = {
  record: new Set(['type', 'name', 'namespace', 'fields', 'aliases', 'doc', 'logicalType']),
  error: new Set(['type', 'name', 'namespace', 'fields', 'aliases', 'doc', 'logicalType']),
  enum: new Set(['type', 'name', 'namespace', 'symbols', 'aliases', 'doc', 'default', 'logicalType']),
  fixed: new Set(['type', 'name', 'namespace', 'size', 'aliases', 'doc', 'logicalType']),
  array: new Set(['type', 'items', 'logicalType']),
  map: new Set(['type', 'values', 'logicalType']),
};

export interface ParseSchemaOptions {
  /** Deepest nesting accepted (guards the recursive parser against hostile schemas). */
  maxDepth?: number;
}

/** Parses schema JSON text (or an already parsed value) into the IR. */
export function parseSchema(source: string | unknown, options: ParseSchemaOptions = {}): AvroSchema {
  let json: unknown = source;
  if (typeof source === 'string') {
    try {
      json = JSON.parse(source);
    } catch (err) {
      throw new AvroSchemaError('AVRO_SCHEMA', `invalid writer schema JSON: ${(err as Error).message}`, {}, { cause: err });
    }
  }
  const parser = new SchemaParser(options.maxDepth ?? 64);
  return parser.parse(json, '', 'schema', 0);
}

class SchemaParser {
  private readonly named = new Map<string, AvroNamed>();

  constructor(private readonly maxDepth: number) {}

  parse(json: unknown, namespace: string, path: string, depth: number): AvroSchema {
    if (depth > this.maxDepth) fail(path, `nesting deeper than ${this.maxDepth}`);
    if (typeof json === 'string') return this.reference(json, namespace, path);
    if (Array.isArray(json)) return this.union(json, namespace, path, depth);
    if (json === null || typeof json !== 'object') fail(path, `expected a type name, object or array, got ${describe(json)}`);
    const obj = json as Record<string, unknown>;
    const type = obj['type'];
    const logicalType = typeof obj['logicalType'] === 'string' ? (obj['logicalType'] as string) : undefined;
    if (typeof type !== 'string') {
      // {"type": {...}} or {"type": [...]} wraps another schema
      if (type !== undefined && typeof type === 'object') return this.parse(type, namespace, path, depth + 1);
      fail(path, `missing or invalid "type" attribute`);
    }
    switch (type) {
      case 'record':
      case 'error':
        return this.record(obj, namespace, path, depth);
      case 'enum':
        return this.enumType(obj, namespace, path);
      case 'fixed':
        return this.fixed(obj, namespace, path);
      case 'array': {
        if (!('items' in obj)) fail(path, 'array without "items"');
        const items = this.parse(obj['items'], namespace, `${path}.items`, depth + 1);
        return withAnnotations({ kind: 'array', items }, obj, logicalType, RESERVED_KEYS['array']!);
      }
      case 'map': {
        if (!('values' in obj)) fail(path, 'map without "values"');
        const values = this.parse(obj['values'], namespace, `${path}.values`, depth + 1);
        return withAnnotations({ kind: 'map', values }, obj, logicalType, RESERVED_KEYS['map']!);
      }
      default:
        if (PRIMITIVES.has(type)) {
          return withAnnotations({ kind: type as AvroPrimitiveKind }, obj, logicalType, new Set(['type', 'logicalType']));
        }
        // {"type": "SomeNamedType"} refers to a named type
        return this.reference(type, namespace, path);
    }
  }

  private reference(name: string, namespace: string, path: string): AvroSchema {
    if (PRIMITIVES.has(name)) return { kind: name as AvroPrimitiveKind, props: {} };
    const full = fullName(name, namespace);
    const found = this.named.get(full) ?? this.named.get(name);
    if (!found) fail(path, `unknown type "${name}"`);
    return found;
  }

  private union(json: unknown[], namespace: string, path: string, depth: number): AvroUnion {
    const branches: AvroSchema[] = [];
    const seen = new Set<string>();
    json.forEach((branchJson, i) => {
      const branch = this.parse(branchJson, namespace, `${path}[${i}]`, depth + 1);
      if (branch.kind === 'union') fail(path, 'a union may not directly contain another union');
      const key = branch.kind === 'record' || branch.kind === 'enum' || branch.kind === 'fixed' ? branch.name : branch.kind;
      if (seen.has(key)) fail(path, `union has two branches of type "${key}"`);
      seen.add(key);
      branches.push(branch);
    });
    return { kind: 'union', branches };
  }

  private declare(obj: Record<string, unknown>, namespace: string, path: string): { name: string; namespace: string; aliases: string[] } {
    const rawName = obj['name'];
    if (typeof rawName !== 'string') fail(path, 'named type without a "name"');
    let ns = namespace;
    if (typeof obj['namespace'] === 'string') ns = obj['namespace'];
    else if (obj['namespace'] !== undefined && obj['namespace'] !== null) fail(path, '"namespace" must be a string');
    let full = rawName;
    if (rawName.includes('.')) {
      ns = rawName.slice(0, rawName.lastIndexOf('.'));
    } else {
      full = ns ? `${ns}.${rawName}` : rawName;
    }
    for (const part of full.split('.')) {
      if (!NAME_RE.test(part)) fail(path, `invalid name "${full}"`);
    }
    if (PRIMITIVES.has(full)) fail(path, `"${full}" is a primitive type name and cannot be redefined`);
    if (this.named.has(full)) fail(path, `type "${full}" is defined twice`);
    const aliases = stringList(obj['aliases'], path, 'aliases').map((a) => fullName(a, ns));
    return { name: full, namespace: ns, aliases };
  }

  private record(obj: Record<string, unknown>, namespace: string, path: string, depth: number): AvroRecord {
    const { name, namespace: ns, aliases } = this.declare(obj, namespace, path);
    const fieldsJson = obj['fields'];
    if (!Array.isArray(fieldsJson)) fail(path, `record "${name}" needs a "fields" array`);
    const fields: AvroField[] = [];
    const logicalType = typeof obj['logicalType'] === 'string' ? (obj['logicalType'] as string) : undefined;
    const record = withAnnotations({ kind: 'record', name, aliases, fields }, obj, logicalType, RESERVED_KEYS['record']!) as AvroRecord;
    // registered before the fields are parsed, so a field may refer to its own record (recursion)
    this.named.set(name, record);
    const names = new Set<string>();
    fieldsJson.forEach((f: unknown, i) => {
      const fpath = `${path}.fields[${i}]`;
      if (f === null || typeof f !== 'object' || Array.isArray(f)) fail(fpath, 'a field must be an object');
      const fo = f as Record<string, unknown>;
      const fname = fo['name'];
      if (typeof fname !== 'string' || !NAME_RE.test(fname)) fail(fpath, `invalid field name ${describe(fname)}`);
      if (names.has(fname)) fail(fpath, `duplicate field name "${fname}" in record "${name}"`);
      names.add(fname);
      if (!('type' in fo)) fail(fpath, `field "${fname}" has no type`);
      const type = this.parse(fo['type'], ns, `${path}.${fname}`, depth + 1);
      const hasDefault = 'default' in fo;
      if (hasDefault && !defaultMatches(type, fo['default'], 0)) {
        fail(fpath, `default value ${describe(fo['default'])} of field "${fname}" does not match its type`);
      }
      const field: AvroField = hasDefault
        ? { name: fname, type, hasDefault, default: fo['default'], aliases: stringList(fo['aliases'], fpath, 'aliases') }
        : { name: fname, type, hasDefault, aliases: stringList(fo['aliases'], fpath, 'aliases') };
      fields.push(field);
    });
    return record;
  }

  private enumType(obj: Record<string, unknown>, namespace: string, path: string): AvroEnum {
    const { name, aliases } = this.declare(obj, namespace, path);
    const symbols = obj['symbols'];
    if (!Array.isArray(symbols) || symbols.some((s) => typeof s !== 'string' || !NAME_RE.test(s))) {
      fail(path, `enum "${name}" needs "symbols": an array of names`);
    }
    if (new Set(symbols).size !== symbols.length) fail(path, `enum "${name}" has duplicate symbols`);
    const dflt = obj['default'];
    if (dflt !== undefined && (typeof dflt !== 'string' || !symbols.includes(dflt))) {
      fail(path, `enum "${name}" default ${describe(dflt)} is not one of its symbols`);
    }
    const logicalType = typeof obj['logicalType'] === 'string' ? (obj['logicalType'] as string) : undefined;
    const node = withAnnotations(
      dflt === undefined ? { kind: 'enum', name, aliases, symbols } : { kind: 'enum', name, aliases, symbols, default: dflt },
      obj,
      logicalType,
      RESERVED_KEYS['enum']!,
    ) as AvroEnum;
    this.named.set(name, node);
    return node;
  }

  private fixed(obj: Record<string, unknown>, namespace: string, path: string): AvroFixed {
    const { name, aliases } = this.declare(obj, namespace, path);
    const size = obj['size'];
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > 0x7fffffff) {
      fail(path, `fixed "${name}" needs a non-negative integer "size", got ${describe(size)}`);
    }
    const logicalType = typeof obj['logicalType'] === 'string' ? (obj['logicalType'] as string) : undefined;
    const node = withAnnotations({ kind: 'fixed', name, aliases, size }, obj, logicalType, RESERVED_KEYS['fixed']!) as AvroFixed;
    this.named.set(name, node);
    return node;
  }
}

function withAnnotations<T extends object>(
  node: T,
  obj: Record<string, unknown>,
  logicalType: string | undefined,
  reserved: ReadonlySet<string>,
): T & Annotated {
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!reserved.has(k)) props[k] = v;
  const out = node as T & { props: Record<string, unknown>; logicalType?: string };
  out.props = props;
  if (logicalType !== undefined) out.logicalType = logicalType;
  return out;
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

function stringList(v: unknown, path: string, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(path, `"${what}" must be an array of strings`);
  return v as string[];
}

/** Does a JSON default value fit the schema? (Spec: "Complex Types", field defaults.) */
function defaultMatches(type: AvroSchema, value: unknown, depth: number): boolean {
  if (depth > 64) return true; // a cyclic schema with a deep default: do not recurse forever
  switch (type.kind) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff;
    case 'long':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
    case 'double':
      return typeof value === 'number' || value === 'NaN' || value === 'Infinity' || value === '-Infinity';
    case 'bytes':
    case 'string':
      return typeof value === 'string';
    case 'fixed':
      return typeof value === 'string' && value.length === type.size;
    case 'enum':
      return typeof value === 'string' && type.symbols.includes(value);
    case 'array':
      return Array.isArray(value) && value.every((v) => defaultMatches(type.items, v, depth + 1));
    case 'map':
      return (
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => defaultMatches(type.values, v, depth + 1))
      );
    case 'record':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
      return type.fields.every((f) => {
        const v = (value as Record<string, unknown>)[f.name];
        return v === undefined ? f.hasDefault : defaultMatches(f.type, v, depth + 1);
      });
    case 'union':
      // Avro 1.12 lets the default match any branch; older writers used the first.
      return type.branches.some((b) => defaultMatches(b, value, depth + 1));
  }
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function fail(path: string, message: string): never {
  throw new AvroSchemaError('AVRO_SCHEMA', `invalid writer schema at ${path}: ${message}`, { field: path });
}

/** The display name of a union branch, as used by the Avro JSON encoding. */
export function branchName(s: AvroSchema): string {
  return s.kind === 'record' || s.kind === 'enum' || s.kind === 'fixed' ? s.name : s.kind;
}
