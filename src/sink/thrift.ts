/**
 * Thrift's compact protocol, the writing half, for Parquet's page headers and footer
 * (parquet-format's parquet.thrift). Values are built with the helpers below and written by
 * `encodeStruct`; field ids and types are the caller's (parquet-format.ts), the wire rules here:
 * zigzag varints, field-id deltas in the header byte, booleans in the type nibble.
 */

const BOOL_TRUE = 1;
const BOOL_FALSE = 2;
const I32 = 5;
const I64 = 6;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

/** A value to write: its compact type and its bytes. */
export type Value =
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'i32'; readonly value: number }
  | { readonly kind: 'i64'; readonly value: number | bigint }
  | { readonly kind: 'binary'; readonly value: Uint8Array }
  | { readonly kind: 'list'; readonly items: readonly Value[]; readonly elem: number }
  | { readonly kind: 'struct'; readonly fields: readonly Field[] };

/** A struct's field: its id and value; undefined values are left out (optional fields). */
export type Field = readonly [id: number, value: Value | undefined];

export const bool = (value: boolean): Value => ({ kind: 'bool', value });
export const i32 = (value: number): Value => ({ kind: 'i32', value });
export const i64 = (value: number | bigint): Value => ({ kind: 'i64', value });
export const binary = (value: Uint8Array): Value => ({ kind: 'binary', value });
export const string = (value: string): Value => ({ kind: 'binary', value: new TextEncoder().encode(value) });
export const struct = (...fields: Field[]): Value => ({ kind: 'struct', fields });
/** A list of values of one type (an empty list still needs it: `elemOf` names the kind). */
export const list = (items: readonly Value[], elemOf: Value['kind'] = items[0]?.kind ?? 'i32'): Value => ({ kind: 'list', items, elem: typeCode(elemOf, true) });

function typeCode(kind: Value['kind'], inList: boolean, value?: boolean): number {
  switch (kind) {
    case 'bool':
      return inList ? BOOL_TRUE : value ? BOOL_TRUE : BOOL_FALSE;
    case 'i32':
      return I32;
    case 'i64':
      return I64;
    case 'binary':
      return BINARY;
    case 'list':
      return LIST;
    case 'struct':
      return STRUCT;
  }
}

/** A growing byte buffer. */
class Out {
  bytes = new Uint8Array(256);
  length = 0;
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }
  byte(b: number): void {
    this.reserve(1);
    this.bytes[this.length++] = b;
  }
  varint(v: bigint | number): void {
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      while (v >= 0x80) {
        this.byte((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      this.byte(v);
      return;
    }
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }
  zigzag32(v: number): void {
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  zigzag64(v: number | bigint): void {
    const x = BigInt(v);
    this.varint(BigInt.asUintN(64, (x << 1n) ^ (x >> 63n)));
  }
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
}

function writeValue(out: Out, v: Value): void {
  switch (v.kind) {
    case 'bool':
      out.byte(v.value ? BOOL_TRUE : BOOL_FALSE); // only inside lists: fields carry it in the header
      return;
    case 'i32':
      out.zigzag32(v.value);
      return;
    case 'i64':
      out.zigzag64(v.value);
      return;
    case 'binary':
      out.varint(v.value.length);
      out.raw(v.value);
      return;
    case 'list':
      if (v.items.length < 15) out.byte((v.items.length << 4) | v.elem);
      else {
        out.byte(0xf0 | v.elem);
        out.varint(v.items.length);
      }
      for (const item of v.items) writeValue(out, item);
      return;
    case 'struct':
      writeFields(out, v.fields);
      return;
  }
}

function writeFields(out: Out, fields: readonly Field[]): void {
  let last = 0;
  for (const [id, value] of fields) {
    if (value === undefined) continue;
    const type = typeCode(value.kind, false, value.kind === 'bool' ? value.value : undefined);
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.byte((delta << 4) | type);
    else {
      out.byte(type);
      out.zigzag32(id);
    }
    last = id;
    if (value.kind !== 'bool') writeValue(out, value);
  }
  out.byte(0); // stop
}

/** A struct's compact-protocol bytes. */
export function encodeStruct(fields: readonly Field[]): Uint8Array {
  const out = new Out();
  writeFields(out, fields);
  return out.bytes.subarray(0, out.length);
}
