/**
 * The object container header (spec: "Object Container Files"):
 * magic `Obj\x01`, a metadata map<bytes>, then a 16-byte sync marker.
 *
 * Metadata values stay raw bytes (`avro.sync`-like keys may hold any bytes); only
 * `avro.schema` and `avro.codec` are decoded, as strict UTF-8.
 */
import { AvroFormatError } from '../errors.js';
import type { ReadLimits } from '../defaults.js';
import { INCOMPLETE, MALFORMED, longToNumber, readLongInto, type LongSlot } from './varint.js';

export const MAGIC = Uint8Array.of(0x4f, 0x62, 0x6a, 0x01); // "Obj" 1
export const SYNC_SIZE = 16;

export interface AvroHeader {
  /** Every metadata entry, values as raw bytes. */
  readonly metadata: ReadonlyMap<string, Uint8Array>;
  /** The writer schema JSON text (`avro.schema`). */
  readonly schemaJson: string;
  /** The codec name (`avro.codec`; `null` when the key is absent). */
  readonly codec: string;
  /** The 16-byte sync marker that ends every block. */
  readonly sync: Uint8Array;
  /** Bytes taken by the header, i.e. the offset of the first block. */
  readonly byteLength: number;
}

/** Either the parsed header, or how many bytes (at least) the prefix must have to finish. */
export type HeaderParse = { header: AvroHeader } | { needBytes: number };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses the header from the first bytes of a file. Returns `needBytes` when `bytes` is a
 * prefix too short to hold the whole header; throws AvroFormatError when it cannot be one.
 */
export function parseHeader(bytes: Uint8Array, limits: ReadLimits): HeaderParse {
  checkMagic(bytes);
  if (bytes.length < MAGIC.length) return { needBytes: MAGIC.length };
  const slot: LongSlot = { lo: 0, hi: 0 };
  const max = Math.min(bytes.length, limits.maxHeaderBytes);
  const metadata = new Map<string, Uint8Array>();
  let pos = MAGIC.length;

  // Reads a non-negative-or-negative long at pos; returns undefined when the prefix ends first.
  const readLong = (what: string): number | undefined => {
    const next = readLongInto(bytes, pos, max, slot);
    if (next === INCOMPLETE) return undefined;
    if (next === MALFORMED) throw bad(`malformed varint in ${what}`, pos);
    const value = longToNumber(slot.lo, slot.hi);
    if (Number.isNaN(value) || Math.abs(value) > limits.maxHeaderBytes) {
      throw new AvroFormatError('AVRO_LIMIT', `header ${what} ${longText(slot)} exceeds the header limit of ${limits.maxHeaderBytes} bytes`, { offset: pos });
    }
    pos = next;
    return value;
  };
  const need = (n: number): HeaderParse => {
    if (n > limits.maxHeaderBytes) {
      throw new AvroFormatError('AVRO_LIMIT', `header is larger than the limit of ${limits.maxHeaderBytes} bytes`, { offset: 0 });
    }
    return { needBytes: n };
  };

  for (;;) {
    const blockStart = pos;
    let count = readLong('metadata count');
    if (count === undefined) return need(max + 1);
    if (count === 0) break;
    if (count < 0) {
      // a negative count is followed by the block's size in bytes (spec: maps)
      count = -count;
      if (readLong('metadata block size') === undefined) return need(max + 1);
    }
    // every entry takes at least two bytes (two lengths), so a count beyond that is a lie
    if (count * 2 > limits.maxHeaderBytes) {
      throw new AvroFormatError('AVRO_LIMIT', `metadata map declares ${count} entries`, { offset: blockStart });
    }
    for (let i = 0; i < count; i++) {
      const keyStart = pos;
      const keyLen = readLong('metadata key length');
      if (keyLen === undefined) return need(max + 1);
      if (keyLen < 0) throw bad(`negative metadata key length ${keyLen}`, keyStart);
      if (pos + keyLen > max) return need(pos + keyLen);
      let key: string;
      try {
        key = strictUtf8.decode(bytes.subarray(pos, pos + keyLen));
      } catch {
        throw bad('metadata key is not valid UTF-8', pos);
      }
      pos += keyLen;
      const valueStart = pos;
      const valueLen = readLong(`length of metadata value "${key}"`);
      if (valueLen === undefined) return need(max + 1);
      if (valueLen < 0) throw bad(`negative length of metadata value "${key}"`, valueStart);
      if (pos + valueLen > max) return need(pos + valueLen);
      if (metadata.has(key)) throw bad(`duplicate metadata key "${key}"`, keyStart);
      metadata.set(key, bytes.slice(pos, pos + valueLen));
      pos += valueLen;
    }
  }
  if (pos + SYNC_SIZE > max) return need(pos + SYNC_SIZE);
  const sync = bytes.slice(pos, pos + SYNC_SIZE);
  pos += SYNC_SIZE;

  const schemaBytes = metadata.get('avro.schema');
  if (!schemaBytes) throw bad('header has no "avro.schema" metadata', 0);
  const codecBytes = metadata.get('avro.codec');
  return {
    header: {
      metadata,
      schemaJson: utf8Value(schemaBytes, 'avro.schema'),
      codec: codecBytes ? utf8Value(codecBytes, 'avro.codec') : 'null',
      sync,
      byteLength: pos,
    },
  };
}

/** Throws as soon as the bytes seen cannot start an Avro container. */
export function checkMagic(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] === MAGIC[i]) continue;
    if (i === 3 && bytes[i] === 0x00) {
      throw new AvroFormatError('AVRO_LEGACY_CONTAINER', 'unsupported container version: legacy Avro 1.2 file (magic "Obj\\x00")', { offset: 0 });
    }
    throw new AvroFormatError('AVRO_BAD_MAGIC', `not an Avro object container file: bad magic ${hex(bytes.subarray(0, n))}`, { offset: 0 });
  }
}

function utf8Value(bytes: Uint8Array, key: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw bad(`metadata "${key}" is not valid UTF-8`, 0);
  }
}

function bad(message: string, offset: number): AvroFormatError {
  return new AvroFormatError('AVRO_BAD_HEADER', message, { offset });
}

function longText(slot: LongSlot): string {
  return ((BigInt(slot.hi) << 32n) | BigInt(slot.lo >>> 0)).toString();
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
