/**
 * Canonical values for comparing decoded Arrow data with the conformance corpus's expected
 * rows (the Avro JSON encoding of the writer schema, with physical values; see
 * shared/testdata/avro-conformance/README.md). Both sides are walked with the Avro schema:
 * long → bigint, float → float32 value, bytes/fixed → latin1 string (decimal → bigint),
 * a non-null union value → { union: value }. The branch name is not compared: the expected
 * files were re-tagged by fastavro's JSON writer, which picks the first branch the value fits
 * (arrow-rs/comprehensive_e2e.avro stores 99 as the `long` branch of [null, int, long], bytes
 * 04 c6 01, and the expected row says {"int": 99}); so int and long union values compare as
 * bigint.
 */
import { type Data, Type } from 'apache-arrow';
import { branchName, type AvroSchema } from '../../src/avro/schema.js';

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint). */
export function parseJsonLossless(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const m = /^-?\d+(?![\d.eE])/.exec(text.slice(i, i + 40));
    const atTokenStart = i === 0 || /[\s:[,]/.test(text[i - 1]!);
    if (m && atTokenStart && m[0].replace('-', '').length > 15) {
      out += `"\\u0000big:${m[0]}"`;
      i += m[0].length - 1;
      continue;
    }
    out += ch;
  }
  return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith('\u0000big:') ? BigInt(v.slice(5)) : v));
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function twosComplementBE(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 ? BigInt.asIntN(bytes.length * 8, v) : 0n;
}

/** The expected JSON value in canonical form. `isDecimal` follows the Arrow mapping of that column. */
export function expectedValue(avro: AvroSchema, json: unknown, arrowTypeId: Type): unknown {
  if (json === null && avro.kind !== 'union') return null;
  switch (avro.kind) {
    case 'null':
      return null;
    case 'long':
      return BigInt(json as number | bigint);
    case 'int':
      return Number(json);
    case 'float':
      return Math.fround(json as number);
    case 'bytes':
    case 'fixed': {
      if (arrowTypeId === Type.Decimal) return twosComplementBE(Buffer.from(json as string, 'latin1'));
      return json;
    }
    case 'array':
      return (json as unknown[]).map((v) => expectedValue(avro.items, v, itemTypeId(avro.items)));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(json as object)) out[k] = expectedValue(avro.values, v, itemTypeId(avro.values));
      return out;
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      for (const f of avro.fields) out[f.name] = expectedValue(f.type, (json as Record<string, unknown>)[f.name], itemTypeId(f.type));
      return out;
    }
    case 'union': {
      if (json === null) return null;
      const [[name, value]] = Object.entries(json as object) as [[string, unknown]];
      const branch = avro.branches.find((b) => branchName(b) === name);
      if (!branch) throw new Error(`expected union branch ${name} not in schema`);
      return { union: unionNumber(branch, expectedValue(branch, value, itemTypeId(branch))) };
    }
    default:
      return json;
  }
}

function unionNumber(branch: AvroSchema, v: unknown): unknown {
  return branch.kind === 'int' && typeof v === 'number' ? BigInt(v) : v;
}

/** Whether our mapping made a decimal of this Avro type (so expected bytes compare as numbers). */
function itemTypeId(avro: AvroSchema): Type {
  if ((avro.kind === 'bytes' || avro.kind === 'fixed') && avro.logicalType === 'decimal') {
    const p = avro.props['precision'];
    const s = avro.props['scale'] ?? 0;
    const fits = avro.kind !== 'fixed' || (typeof p === 'number' && p <= Math.floor(Math.log10(2) * (8 * avro.size - 1)));
    if (typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 76 && typeof s === 'number' && s >= 0 && s <= p && fits) return Type.Decimal;
  }
  return Type.NONE;
}

/** Our decoded value (row i of `data`) in canonical form. */
export function actualValue(avro: AvroSchema, data: Data, i: number): unknown {
  if (avro.kind === 'union') {
    const nullIndex = avro.branches.findIndex((b) => b.kind === 'null');
    if (avro.branches.length === 2 && nullIndex >= 0) {
      const branch = avro.branches[1 - nullIndex]!;
      if (!data.getValid(i)) return null;
      return { union: unionNumber(branch, plainValue(branch, data, i)) };
    }
    const typeIds = data.typeIds as Int8Array;
    const offsets = data.valueOffsets as Int32Array;
    const b = typeIds[data.offset + i]!;
    const branch = avro.branches[b]!;
    if (branch.kind === 'null') return null;
    return { union: unionNumber(branch, plainValue(branch, data.children[b]!, offsets[data.offset + i]!)) };
  }
  if (data.typeId !== Type.Null && data.nullCount > 0 && !data.getValid(i)) return null;
  return plainValue(avro, data, i);
}

function plainValue(avro: AvroSchema, data: Data, i: number): unknown {
  const at = data.offset + i;
  switch (avro.kind) {
    case 'null':
      return null;
    case 'boolean':
      return (((data.values as Uint8Array)[at >> 3]! >> (at & 7)) & 1) === 1;
    case 'int':
    case 'float':
    case 'double':
      return Number((data.values as ArrayLike<number>)[at]);
    case 'long':
      return (data.values as BigInt64Array)[at]!;
    case 'string':
      return utf8.decode(varSlice(data, at));
    case 'bytes':
    case 'fixed': {
      if (data.typeId === Type.Decimal) {
        const words = (data.type as unknown as { bitWidth: number }).bitWidth / 32;
        const w = (data.values as Uint32Array).subarray(at * words, (at + 1) * words);
        let v = 0n;
        for (let k = w.length - 1; k >= 0; k--) v = (v << 32n) | BigInt(w[k]!);
        return BigInt.asIntN(words * 32, v);
      }
      if (avro.kind === 'fixed') return latin1((data.values as Uint8Array).subarray(at * avro.size, (at + 1) * avro.size));
      return latin1(varSlice(data, at));
    }
    case 'enum':
      return data.dictionary!.get((data.values as Int32Array)[at]!);
    case 'array': {
      const o = data.valueOffsets as Int32Array;
      const out: unknown[] = [];
      for (let k = o[at]!; k < o[at + 1]!; k++) out.push(actualValue(avro.items, data.children[0]!, k));
      return out;
    }
    case 'map': {
      const o = data.valueOffsets as Int32Array;
      const entries = data.children[0]!;
      const out: Record<string, unknown> = {};
      for (let k = o[at]!; k < o[at + 1]!; k++) out[utf8.decode(varSlice(entries.children[0]!, k))] = actualValue(avro.values, entries.children[1]!, k);
      return out;
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      avro.fields.forEach((f, k) => {
        out[f.name] = actualValue(f.type, data.children[k]!, at);
      });
      return out;
    }
    case 'union':
      return actualValue(avro, data, i);
  }
}

function varSlice(data: Data, at: number): Uint8Array {
  const o = data.valueOffsets as Int32Array;
  return (data.values as Uint8Array).subarray(o[at]!, o[at + 1]!);
}
