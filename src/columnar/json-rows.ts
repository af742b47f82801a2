/**
 * Arrow rows as JSON text, for people reading output (`heaplake cat`). Values are read from
 * the typed arrays, never through `Vector.get()`, so 64-bit integers print exactly (as JSON
 * numbers) and timestamps keep every digit of their unit.
 *
 * Display forms: Int64 → number; binary/fixed → base64; date → "YYYY-MM-DD";
 * timestamp → ISO 8601 with the unit's fraction ("Z" only when the zone is UTC);
 * decimal → string; enum → symbol; map → object; union → the active branch's value;
 * NaN/±Infinity → strings.
 */
import { type Data, type DataType, type RecordBatch, Type, TimeUnit } from 'apache-arrow';

type Formatter = (data: Data, i: number) => string;

/** One JSON object per row. */
export function* rowsAsJson(batch: RecordBatch): Generator<string> {
  const columns = batch.schema.fields.map((f, c) => ({
    key: JSON.stringify(f.name),
    data: batch.data.children[c]!,
    fmt: formatterFor(f.type),
  }));
  for (let i = 0; i < batch.numRows; i++) {
    yield '{' + columns.map((c) => `${c.key}:${c.fmt(c.data, i)}`).join(',') + '}';
  }
}

// ignoreBOM: a value that starts with U+FEFF keeps it
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function nullable(fmt: Formatter): Formatter {
  return (data, i) => (data.nullCount > 0 && !data.getValid(i) ? 'null' : fmt(data, i));
}

function formatterFor(type: DataType): Formatter {
  return nullable(valueFormatter(type));
}

/** A value as display text without JSON quoting (for widening a conflicting column to utf8). */
export function displayText(type: DataType): (data: Data, i: number) => string {
  const fmt = valueFormatter(type);
  return (data, i) => {
    const text = fmt(data, i);
    return text.startsWith('"') ? (JSON.parse(text) as string) : text;
  };
}

function valueFormatter(type: DataType): Formatter {
  switch (type.typeId) {
    case Type.Null:
      return () => 'null';
    case Type.Bool:
      return (d, i) => (((d.values as Uint8Array)[(d.offset + i) >> 3]! >> ((d.offset + i) & 7)) & 1 ? 'true' : 'false');
    case Type.Int:
    case Type.Int8:
    case Type.Int16:
    case Type.Int32:
    case Type.Int64:
    case Type.Uint8:
    case Type.Uint16:
    case Type.Uint32:
    case Type.Uint64:
    case Type.Time:
    case Type.TimeMillisecond:
    case Type.TimeMicrosecond:
      return (d, i) => String((d.values as ArrayLike<number | bigint>)[i]);
    case Type.Float:
    case Type.Float16:
    case Type.Float32:
    case Type.Float64:
      return (d, i) => {
        const v = (d.values as Float64Array)[i]!;
        return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
      };
    case Type.Utf8:
      return (d, i) => JSON.stringify(decoder.decode(slice(d, i)));
    case Type.Binary:
      return (d, i) => JSON.stringify(Buffer.from(slice(d, i)).toString('base64'));
    case Type.FixedSizeBinary: {
      const w = (type as unknown as { byteWidth: number }).byteWidth;
      return (d, i) => JSON.stringify(Buffer.from((d.values as Uint8Array).subarray(i * w, (i + 1) * w)).toString('base64'));
    }
    case Type.Date:
    case Type.DateDay:
      return (d, i) => JSON.stringify(isoDay(BigInt((d.values as Int32Array)[i]!)));
    case Type.Timestamp:
    case Type.TimestampSecond:
    case Type.TimestampMillisecond:
    case Type.TimestampMicrosecond:
    case Type.TimestampNanosecond: {
      const t = type as unknown as { unit: TimeUnit; timezone?: string | null };
      return (d, i) => JSON.stringify(isoTimestamp((d.values as BigInt64Array)[i]!, t.unit, t.timezone ? 'Z' : ''));
    }
    case Type.Decimal: {
      const t = type as unknown as { scale: number; bitWidth: number };
      const words = t.bitWidth / 32;
      return (d, i) => JSON.stringify(decimalText((d.values as Uint32Array).subarray(i * words, (i + 1) * words), t.scale));
    }
    case Type.Dictionary:
      return (d, i) => {
        const index = (d.values as Int32Array)[i]!;
        return JSON.stringify(d.dictionary!.get(index));
      };
    case Type.Struct: {
      const fields = type.children.map((f, c) => ({ key: JSON.stringify(f.name), c, fmt: formatterFor(f.type) }));
      return (d, i) => '{' + fields.map((f) => `${f.key}:${f.fmt(d.children[f.c]!, i)}`).join(',') + '}';
    }
    case Type.List: {
      const item = formatterFor(type.children[0]!.type);
      return (d, i) => {
        const o = d.valueOffsets as Int32Array;
        const parts: string[] = [];
        for (let k = o[i]!; k < o[i + 1]!; k++) parts.push(item(d.children[0]!, k));
        return '[' + parts.join(',') + ']';
      };
    }
    case Type.Map: {
      const valueType = type.children[0]!.type.children[1]!.type;
      const value = formatterFor(valueType);
      return (d, i) => {
        const o = d.valueOffsets as Int32Array;
        const entries = d.children[0]!;
        const parts: string[] = [];
        for (let k = o[i]!; k < o[i + 1]!; k++) {
          parts.push(`${JSON.stringify(decoder.decode(slice(entries.children[0]!, k)))}:${value(entries.children[1]!, k)}`);
        }
        return '{' + parts.join(',') + '}';
      };
    }
    case Type.Union:
    case Type.DenseUnion: {
      const branches = type.children.map((f) => formatterFor(f.type));
      return (d, i) => {
        const branch = (d.typeIds as Int8Array)[i]!;
        const at = (d.valueOffsets as Int32Array)[i]!;
        return branches[branch]!(d.children[branch]!, at);
      };
    }
    default:
      return () => JSON.stringify(`<${String(type)}>`);
  }
}

function slice(d: Data, i: number): Uint8Array {
  const o = d.valueOffsets as Int32Array;
  return (d.values as Uint8Array).subarray(o[i]!, o[i + 1]!);
}

const UNITS_PER_SECOND: Record<number, bigint> = {
  [TimeUnit.SECOND]: 1n,
  [TimeUnit.MILLISECOND]: 1_000n,
  [TimeUnit.MICROSECOND]: 1_000_000n,
  [TimeUnit.NANOSECOND]: 1_000_000_000n,
};

function isoDay(days: bigint): string {
  return new Date(Number(days) * 86_400_000).toISOString().slice(0, 10);
}

/** ISO 8601 for any value of the unit, outside the JS Date range too. */
export function isoTimestamp(value: bigint, unit: TimeUnit, zone: string): string {
  const perSecond = UNITS_PER_SECOND[unit]!;
  const perDay = perSecond * 86_400n;
  let days = value / perDay;
  let rest = value % perDay;
  if (rest < 0n) {
    rest += perDay;
    days -= 1n;
  }
  const seconds = rest / perSecond;
  const fraction = rest % perSecond;
  const digits = perSecond.toString().length - 1;
  const day = Math.abs(Number(days)) <= 100_000_000 ? isoDay(days) : `${days}d`;
  const hh = String(seconds / 3600n).padStart(2, '0');
  const mm = String((seconds % 3600n) / 60n).padStart(2, '0');
  const ss = String(seconds % 60n).padStart(2, '0');
  const frac = digits > 0 ? '.' + fraction.toString().padStart(digits, '0') : '';
  return `${day}T${hh}:${mm}:${ss}${frac}${zone}`;
}

/** A little-endian two's-complement decimal as text with `scale` fraction digits. */
function decimalText(words: Uint32Array, scale: number): string {
  let v = 0n;
  for (let k = words.length - 1; k >= 0; k--) v = (v << 32n) | BigInt(words[k]!);
  v = BigInt.asIntN(words.length * 32, v);
  const negative = v < 0n;
  const digits = (negative ? -v : v).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}
