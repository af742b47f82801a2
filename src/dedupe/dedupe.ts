/**
 * De-duplication on a table's key, latest wins (../shared/docs/heap-connect-s3.md §4.3, §7.1):
 * rows arrive in precedence order — the lake's existing rows, then each dump in dump order,
 * each file in manifest order, each row in file order — and a later row replaces an earlier
 * one with the same key. For `users`, within one dump the higher `last_modified` wins (a tie
 * goes to the later row); across dumps the later dump wins. Rows whose key is null are kept,
 * never de-duplicated, and counted.
 */
import { type Data, Type } from 'apache-arrow';
import { isValid, type RowRefs } from '../columnar/gather.js';
import { KeyIndex } from './key-index.js';

export interface DedupeSource {
  /** The key column of each source batch (undefined: the batch has no key column). */
  readonly keys: readonly (Data | undefined)[];
  /** The dump ordinal of each source batch (existing lake rows: -1). */
  readonly dumpOf: readonly number[];
  /** `users` only: each batch's last_modified column. */
  readonly lastModified?: readonly (Data | undefined)[];
}

export interface DedupeResult {
  /** The surviving rows, in their original order. */
  readonly winners: RowRefs;
  /** For each winner, its index in the input refs. */
  readonly index: Int32Array;
  /** Rows replaced by a later row with the same key. */
  readonly duplicates: number;
  /** Rows kept because their key is null. */
  readonly nullKeys: number;
  /** Every integer key of the rows (the winners' keys): a merge looks up the lake's rows in it. */
  readonly keys: KeyIndex;
}

/** Int32 views of 64-bit key columns, made once per batch. */
function halvesView(d: Data | undefined): Int32Array | undefined {
  const v = d?.values as ArrayBufferView | undefined;
  return v instanceof BigInt64Array ? new Int32Array(v.buffer, v.byteOffset, v.length * 2) : undefined;
}

function lastModifiedOf(d: Data | undefined, r: number): number {
  if (!d) return -Infinity;
  if (!isValid(d, r)) return -Infinity;
  return Number((d.values as BigInt64Array)[r]);
}

export function dedupe(refs: RowRefs, source: DedupeSource): DedupeResult {
  const n = refs.length;
  const keep = new Uint8Array(n).fill(1);
  let duplicates = 0;
  let nullKeys = 0;
  const views = source.keys.map(halvesView);
  const ints = new KeyIndex(Math.min(n, 1 << 20));
  const texts = new Map<string, number>();
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

  const laterWins = (earlier: number, later: number): boolean => {
    if (!source.lastModified) return true;
    const be = refs.batch[earlier]!;
    const bl = refs.batch[later]!;
    if (source.dumpOf[be] !== source.dumpOf[bl]) return true;
    return lastModifiedOf(source.lastModified[bl], refs.row[later]!) >= lastModifiedOf(source.lastModified[be], refs.row[earlier]!);
  };
  const settle = (earlier: number, later: number): number => {
    duplicates++;
    if (laterWins(earlier, later)) {
      keep[earlier] = 0;
      return later;
    }
    keep[later] = 0;
    return earlier;
  };

  for (let i = 0; i < n; i++) {
    const b = refs.batch[i]!;
    const r = refs.row[i]!;
    const key = source.keys[b];
    if (!key || !isValid(key, r)) {
      nullKeys++;
      continue;
    }
    if (key.typeId === Type.Int || key.typeId === Type.Int64 || key.typeId === Type.Int32) {
      const view = views[b];
      const lo = view ? view[r * 2]! : (key.values as Int32Array)[r]!;
      const hi = view ? view[r * 2 + 1]! : lo >> 31;
      const prev = ints.get(lo, hi);
      ints.set(lo, hi, prev === -1 ? i : settle(prev, i));
    } else {
      // a key column widened to text by a type conflict: compare its text
      const o = key.valueOffsets as Int32Array;
      const text = utf8.decode((key.values as Uint8Array).subarray(o[r]!, o[r + 1]!));
      const prev = texts.get(text);
      texts.set(text, prev === undefined ? i : settle(prev, i));
    }
  }
  let count = 0;
  for (let i = 0; i < n; i++) count += keep[i]!;
  const batch = new Int32Array(count);
  const row = new Int32Array(count);
  const index = new Int32Array(count);
  for (let i = 0, j = 0; i < n; i++) {
    if (!keep[i]) continue;
    batch[j] = refs.batch[i]!;
    row[j] = refs.row[i]!;
    index[j] = i;
    j++;
  }
  return { winners: { batch, row, length: count }, index, duplicates, nullKeys, keys: ints };
}
