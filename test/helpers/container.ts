/** Builds Avro container files byte by byte, for tests of framing and of bad input. */
import { encodeLong } from '../../src/avro/varint.js';

export const SYNC = Uint8Array.from(Buffer.from('0123456789abcdef'));

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length))));
}

export const long = (n: number | bigint): Uint8Array => encodeLong(BigInt(n));
export const str = (s: string | Uint8Array): Uint8Array => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return concat(long(b.length), b);
};

export interface ContainerSpec {
  schema: unknown;
  codec?: string;
  /** Extra metadata entries (values as bytes or text). */
  meta?: Record<string, string | Uint8Array>;
  sync?: Uint8Array;
  blocks?: { count: number; data: Uint8Array; sync?: Uint8Array }[];
}

export function header(spec: ContainerSpec): Uint8Array {
  const entries: [string, string | Uint8Array][] = [['avro.schema', typeof spec.schema === 'string' ? spec.schema : JSON.stringify(spec.schema)]];
  if (spec.codec !== undefined) entries.push(['avro.codec', spec.codec]);
  for (const [k, v] of Object.entries(spec.meta ?? {})) entries.push([k, v]);
  const map = entries.flatMap(([k, v]) => [str(k), str(typeof v === 'string' ? Buffer.from(v) : v)]);
  return concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(entries.length), ...map, long(0), spec.sync ?? SYNC);
}

export function container(spec: ContainerSpec): Uint8Array {
  const blocks = (spec.blocks ?? []).map((b) => concat(long(b.count), long(b.data.length), b.data, b.sync ?? spec.sync ?? SYNC));
  return concat(header(spec), ...blocks);
}
