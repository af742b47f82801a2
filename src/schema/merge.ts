/**
 * Schema merge across the files of a table (and the table already in the lake): the union
 * of columns by name, all nullable, with a fixed widening that does not depend on the order
 * the files are read in (../shared/docs/heap-connect-s3.md §4.5):
 *
 *   int32 ⊔ int64 = int64;  int32|int64|float32 ⊔ float64 = float64;  int32|int64 ⊔ float32 = float64
 *   null ⊔ T = T;  T ⊔ T = T;  any other pair = utf8 (reported as a conflict)
 *
 * The join is commutative and associative, so any order of files gives the same schema.
 * Lake tables hold flat columns only (Heap exports primitive fields); a record, array, map or
 * union column is refused. Enums become utf8.
 */
import {
  type DataType,
  Binary,
  Bool,
  DateDay,
  Decimal,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int32,
  Int64,
  Null,
  Schema,
  TimeMicrosecond,
  TimeMillisecond,
  Timestamp,
  TimeUnit,
  Type,
  Utf8,
} from 'apache-arrow';
import { UnsupportedError } from '../errors.js';

/** A column type of a lake table, as text (stored in the lake state). */
export type TypeSpec = string;

/** The type text of a flat Arrow type; refuses nested types. */
export function typeSpec(type: DataType, column: string): TypeSpec {
  switch (type.typeId) {
    case Type.Null:
      return 'null';
    case Type.Bool:
      return 'bool';
    case Type.Int:
    case Type.Int32:
    case Type.Int64: {
      const t = type as unknown as { bitWidth: number; isSigned: boolean };
      if (t.isSigned && t.bitWidth === 32) return 'int32';
      if (t.isSigned && t.bitWidth === 64) return 'int64';
      break;
    }
    case Type.Float:
    case Type.Float32:
    case Type.Float64: {
      const t = type as unknown as { precision: number };
      return t.precision === 1 ? 'float32' : 'float64';
    }
    case Type.Utf8:
      return 'utf8';
    case Type.Dictionary:
      if ((type as unknown as { dictionary: DataType }).dictionary.typeId === Type.Utf8) return 'utf8';
      break;
    case Type.Binary:
      return 'binary';
    case Type.FixedSizeBinary:
      return `fixed[${(type as unknown as { byteWidth: number }).byteWidth}]`;
    case Type.Date:
    case Type.DateDay:
      return 'date32';
    case Type.Time:
    case Type.TimeMillisecond:
    case Type.TimeMicrosecond:
      return (type as unknown as { unit: TimeUnit }).unit === TimeUnit.MILLISECOND ? 'time32[ms]' : 'time64[us]';
    case Type.Timestamp:
    case Type.TimestampMillisecond:
    case Type.TimestampMicrosecond:
    case Type.TimestampNanosecond:
    case Type.TimestampSecond: {
      const t = type as unknown as { unit: TimeUnit; timezone: string | null };
      const unit = ['s', 'ms', 'us', 'ns'][t.unit]!;
      return t.timezone ? `timestamp[${unit},${t.timezone}]` : `timestamp[${unit}]`;
    }
    case Type.Decimal: {
      const t = type as unknown as { precision: number; scale: number; bitWidth: number };
      return `decimal${t.bitWidth}[${t.precision},${t.scale}]`;
    }
    default:
      break;
  }
  throw new UnsupportedError('UNSUPPORTED', `column "${column}" has type ${String(type)}; Heap tables hold flat columns only`, { field: column });
}

/** The Arrow type for a type text. */
export function arrowType(spec: TypeSpec): DataType {
  switch (spec) {
    case 'null':
      return new Null();
    case 'bool':
      return new Bool();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'utf8':
      return new Utf8();
    case 'binary':
      return new Binary();
    case 'date32':
      return new DateDay();
    case 'time32[ms]':
      return new TimeMillisecond();
    case 'time64[us]':
      return new TimeMicrosecond();
  }
  let m = /^fixed\[(\d+)\]$/.exec(spec);
  if (m) return new FixedSizeBinary(Number(m[1]));
  m = /^timestamp\[(s|ms|us|ns)(?:,(.+))?\]$/.exec(spec);
  if (m) return new Timestamp(['s', 'ms', 'us', 'ns'].indexOf(m[1]!) as TimeUnit, m[2] ?? null);
  m = /^decimal(128|256)\[(\d+),(\d+)\]$/.exec(spec);
  if (m) return new Decimal(Number(m[3]), Number(m[2]), Number(m[1]));
  throw new UnsupportedError('UNSUPPORTED', `unknown column type "${spec}"`);
}

const NUMERIC_RANK: Record<string, number> = { int32: 0, int64: 1, float32: 2, float64: 3 };

/** The join of two column types in the widening lattice; `conflict` when it fell back to utf8. */
export function joinTypes(a: TypeSpec, b: TypeSpec): { type: TypeSpec; conflict: boolean } {
  if (a === b) return { type: a, conflict: false };
  if (a === 'null') return { type: b, conflict: false };
  if (b === 'null') return { type: a, conflict: false };
  const ra = NUMERIC_RANK[a];
  const rb = NUMERIC_RANK[b];
  if (ra !== undefined && rb !== undefined) {
    if ((a === 'int32' && b === 'int64') || (a === 'int64' && b === 'int32')) return { type: 'int64', conflict: false };
    return { type: 'float64', conflict: false }; // any other numeric pair meets at double
  }
  return { type: 'utf8', conflict: true };
}

export interface MergedColumn {
  readonly name: string;
  readonly type: TypeSpec;
  /** Every distinct type seen for this column (for the report). */
  readonly seen: readonly TypeSpec[];
}

/**
 * Merges column lists (each in its file's order) into one: existing columns keep their place,
 * new ones follow in order of first appearance; types are joined over every appearance.
 */
export function mergeColumns(lists: readonly (readonly { name: string; type: TypeSpec }[])[]): { columns: MergedColumn[]; conflicts: MergedColumn[] } {
  const order: string[] = [];
  const seen = new Map<string, Set<TypeSpec>>();
  for (const list of lists) {
    for (const c of list) {
      if (!seen.has(c.name)) {
        seen.set(c.name, new Set());
        order.push(c.name);
      }
      seen.get(c.name)!.add(c.type);
    }
  }
  const columns: MergedColumn[] = [];
  const conflicts: MergedColumn[] = [];
  for (const name of order) {
    // join in sorted order: the result is the same for any order anyway, and this keeps `seen` stable
    const types = [...seen.get(name)!].sort();
    let type: TypeSpec = 'null';
    let conflict = false;
    for (const t of types) {
      const j = joinTypes(type, t);
      type = j.type;
      conflict ||= j.conflict;
    }
    const col = { name, type, seen: types };
    columns.push(col);
    if (conflict) conflicts.push(col);
  }
  return { columns, conflicts };
}

/** The lake schema: every column nullable, with a stable `PARQUET:field_id`. */
export function lakeSchema(columns: readonly { name: string; type: TypeSpec; fieldId: number }[], metadata?: Map<string, string>): Schema {
  return new Schema(
    columns.map((c) => new Field(c.name, arrowType(c.type), true, new Map([['PARQUET:field_id', String(c.fieldId)]]))),
    metadata,
  );
}
