/**
 * Avro → Arrow type mapping: turns a writer schema into a tree of column plans, each saying
 * how the Avro bytes are laid out (`kind`) and which Arrow field they become.
 *
 * Rules (also in the README):
 * - `[null, T]` / `[T, null]` → T, nullable; other unions → DenseUnion (a `null` branch is a Null child)
 * - record → Struct; array → List; map → Map<Utf8, V>; enum → Dictionary<Int32, Utf8>
 * - fixed → FixedSizeBinary; bytes → Binary; string → Utf8
 * - int/long/float/double/boolean → Int32/Int64/Float32/Float64/Bool; null → Null
 * - date → Date32; time-millis → Time32(ms); time-micros → Time64(µs)
 * - timestamp-{millis,micros,nanos} → Timestamp(unit, "UTC"); local-timestamp-* → Timestamp(unit)
 * - decimal → Decimal128 (precision ≤ 38) or Decimal256 (≤ 76), else the physical type
 * - uuid → Utf8 on string, FixedSizeBinary(16) on fixed; duration → FixedSizeBinary(12)
 * - an unknown or invalid logicalType falls back to the physical type; it is kept in the
 *   field metadata as `avro.logicalType`
 * - a top-level schema that is not a record becomes one column named `value`
 * - recursive schemas are refused (UnsupportedError)
 */
import {
  type DataType,
  Binary,
  Bool,
  DateDay,
  Decimal,
  DenseUnion,
  Dictionary,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  Map_,
  Null,
  Schema,
  Struct,
  TimeMicrosecond,
  TimeMillisecond,
  Timestamp,
  TimeUnit,
  Utf8,
} from 'apache-arrow';
import { UnsupportedError } from '../errors.js';
import { branchName, type AvroSchema } from '../avro/schema.js';

export type PlanKind =
  | 'int32'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'bool'
  | 'utf8'
  | 'binary'
  | 'fixed'
  | 'decimal'
  | 'enum'
  | 'null'
  | 'struct'
  | 'list'
  | 'map'
  | 'union';

export interface ColumnPlan {
  readonly kind: PlanKind;
  readonly field: Field;
  /** Dotted path, for errors. */
  readonly path: string;
  /** For a `[null, T]` union: the index of the null branch (0 or 1); otherwise -1. */
  readonly nullIndex: number;
  /** Bytes per value for fixed-width layouts (fixed, decimal storage). */
  readonly width: number;
  /** Decimal: the Avro storage is `fixed` of this size, or `bytes` when 0. */
  readonly fixedSize: number;
  /** Record fields, the list item, the map value, or the union branches. */
  readonly children: readonly ColumnPlan[];
  /** Enum symbols. */
  readonly symbols: readonly string[];
}

export interface RootPlan {
  readonly schema: Schema;
  readonly columns: readonly ColumnPlan[];
  /** The fewest bytes a record can take (0 when a record may be empty). */
  readonly minRecordBytes: number;
}

const LOGICAL_KEY = 'avro.logicalType';

/** Maps a parsed writer schema to the Arrow schema and the column plans that decode it. */
export function planColumns(schema: AvroSchema): RootPlan {
  const planner = new Planner();
  let columns: ColumnPlan[];
  if (schema.kind === 'record') {
    planner.enter(schema.name, '');
    columns = schema.fields.map((f) => planner.plan(f.name, f.type, f.name));
    planner.leave(schema.name);
  } else {
    columns = [planner.plan('value', schema, 'value')];
  }
  const metadata = new Map<string, string>();
  if (schema.kind === 'record') metadata.set('avro.name', schema.name);
  return {
    schema: new Schema(columns.map((c) => c.field), metadata),
    columns,
    minRecordBytes: columns.reduce((sum, c) => sum + minBytes(c), 0),
  };
}

class Planner {
  private readonly active = new Set<string>();
  private dictionaryId = 0;

  enter(name: string, path: string): void {
    if (this.active.has(name)) {
      throw new UnsupportedError('UNSUPPORTED', `recursive schemas are not supported: type "${name}" contains itself`, { field: path || name });
    }
    this.active.add(name);
  }

  leave(name: string): void {
    this.active.delete(name);
  }

  plan(name: string, avro: AvroSchema, path: string): ColumnPlan {
    if (avro.kind === 'union') {
      const nonNull = avro.branches.filter((b) => b.kind !== 'null');
      const nullIndex = avro.branches.findIndex((b) => b.kind === 'null');
      if (avro.branches.length === 2 && nonNull.length === 1 && nullIndex >= 0) {
        return this.value(name, nonNull[0]!, path, true, nullIndex);
      }
      return this.union(name, avro.branches, path);
    }
    return this.value(name, avro, path, false, -1);
  }

  private union(name: string, branches: readonly AvroSchema[], path: string): ColumnPlan {
    if (branches.length > 127) throw new UnsupportedError('UNSUPPORTED', `unions of more than 127 branches are not supported`, { field: path });
    const children = branches.map((b) => this.value(branchName(b), b, `${path}<${branchName(b)}>`, false, -1));
    const type = new DenseUnion(
      children.map((_, i) => i),
      children.map((c) => c.field),
    );
    return plan('union', new Field(name, type, false), path, { children });
  }

  private value(name: string, avro: AvroSchema, path: string, nullable: boolean, nullIndex: number): ColumnPlan {
    const opts = { nullIndex };
    const logical = 'logicalType' in avro ? avro.logicalType : undefined;
    const meta = (extra?: Record<string, string>): Map<string, string> | undefined => {
      const m = new Map<string, string>();
      if (logical !== undefined) m.set(LOGICAL_KEY, logical);
      if (extra) for (const [k, v] of Object.entries(extra)) m.set(k, v);
      return m.size > 0 ? m : undefined;
    };
    const field = (type: DataType, extra?: Record<string, string>): Field => new Field(name, type, nullable || avro.kind === 'null', meta(extra));
    switch (avro.kind) {
      case 'null':
        return plan('null', field(new Null()), path, opts);
      case 'boolean':
        return plan('bool', field(new Bool()), path, opts);
      case 'int':
        if (logical === 'date') return plan('int32', field(new DateDay()), path, opts);
        if (logical === 'time-millis') return plan('int32', field(new TimeMillisecond()), path, opts);
        return plan('int32', field(new Int32()), path, opts);
      case 'long':
        switch (logical) {
          case 'time-micros':
            return plan('int64', field(new TimeMicrosecond()), path, opts);
          case 'timestamp-millis':
            return plan('int64', field(new Timestamp(TimeUnit.MILLISECOND, 'UTC')), path, opts);
          case 'timestamp-micros':
            return plan('int64', field(new Timestamp(TimeUnit.MICROSECOND, 'UTC')), path, opts);
          case 'timestamp-nanos':
            return plan('int64', field(new Timestamp(TimeUnit.NANOSECOND, 'UTC')), path, opts);
          case 'local-timestamp-millis':
            return plan('int64', field(new Timestamp(TimeUnit.MILLISECOND)), path, opts);
          case 'local-timestamp-micros':
            return plan('int64', field(new Timestamp(TimeUnit.MICROSECOND)), path, opts);
          case 'local-timestamp-nanos':
            return plan('int64', field(new Timestamp(TimeUnit.NANOSECOND)), path, opts);
          default:
            return plan('int64', field(new Int64()), path, opts);
        }
      case 'float':
        return plan('float32', field(new Float32()), path, opts);
      case 'double':
        return plan('float64', field(new Float64()), path, opts);
      case 'string':
        return plan('utf8', field(new Utf8()), path, opts);
      case 'bytes': {
        const dec = logical === 'decimal' ? decimalType(avro.props, 0) : undefined;
        if (dec) return plan('decimal', field(dec), path, { ...opts, width: dec.bitWidth / 8 });
        return plan('binary', field(new Binary(), decimalNote(logical, avro.props)), path, opts);
      }
      case 'fixed': {
        const dec = logical === 'decimal' ? decimalType(avro.props, avro.size) : undefined;
        if (dec) return plan('decimal', field(dec), path, { ...opts, width: dec.bitWidth / 8, fixedSize: avro.size });
        return plan('fixed', field(new FixedSizeBinary(avro.size), decimalNote(logical, avro.props)), path, { ...opts, width: avro.size });
      }
      case 'enum':
        return plan('enum', field(new Dictionary(new Utf8(), new Int32(), this.dictionaryId++)), path, {
          ...opts,
          width: 4,
          symbols: avro.symbols,
        });
      case 'array': {
        const item = this.plan('item', avro.items, `${path}[]`);
        return plan('list', field(new List(item.field)), path, { ...opts, children: [item] });
      }
      case 'map': {
        const value = this.plan('value', avro.values, `${path}{}`);
        const entries = new Field('entries', new Struct([new Field('key', new Utf8(), false), value.field]), false);
        return plan('map', field(new Map_(entries, false)), path, { ...opts, children: [value] });
      }
      case 'record': {
        this.enter(avro.name, path);
        const children = avro.fields.map((f) => this.plan(f.name, f.type, `${path}.${f.name}`));
        this.leave(avro.name);
        return plan('struct', field(new Struct(children.map((c) => c.field)), { 'avro.name': avro.name }), path, { ...opts, children });
      }
      case 'union':
        // a union directly inside a union is rejected by the schema parser
        return this.plan(name, avro, path);
    }
  }
}

function plan(kind: PlanKind, field: Field, path: string, opts: Partial<ColumnPlan> = {}): ColumnPlan {
  return {
    kind,
    field,
    path,
    nullIndex: opts.nullIndex ?? -1,
    width: opts.width ?? widthOf(kind),
    fixedSize: opts.fixedSize ?? 0,
    children: opts.children ?? [],
    symbols: opts.symbols ?? [],
  };
}

function widthOf(kind: PlanKind): number {
  switch (kind) {
    case 'int32':
    case 'float32':
    case 'enum':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    default:
      return 0;
  }
}

/** A valid decimal logical type as an Arrow Decimal, or undefined to fall back. */
function decimalType(props: Readonly<Record<string, unknown>>, fixedSize: number): Decimal | undefined {
  const precision = props['precision'];
  const scale = props['scale'] ?? 0;
  if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1) return undefined;
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision) return undefined;
  // a fixed of n bytes holds at most floor(log10(2^(8n-1) - 1)) digits
  if (fixedSize > 0 && precision > Math.floor(Math.log10(2) * (8 * fixedSize - 1))) return undefined;
  if (precision <= 38) return new Decimal(scale, precision, 128);
  if (precision <= 76) return new Decimal(scale, precision, 256);
  return undefined;
}

function decimalNote(logical: string | undefined, props: Readonly<Record<string, unknown>>): Record<string, string> | undefined {
  if (logical !== 'decimal') return undefined;
  return { 'avro.decimal': JSON.stringify({ precision: props['precision'], scale: props['scale'] ?? 0 }) };
}

/** The fewest bytes one value of this column takes in Avro binary. */
export function minBytes(p: ColumnPlan): number {
  if (p.nullIndex >= 0) return 1; // the union index
  switch (p.kind) {
    case 'null':
      return 0;
    case 'float32':
      return 4;
    case 'float64':
      return 8;
    case 'fixed':
      return p.width;
    case 'decimal':
      return p.fixedSize > 0 ? p.fixedSize : 1;
    case 'struct':
      return p.children.reduce((s, c) => s + minBytes(c), 0);
    default:
      return 1;
  }
}
