/**
 * Where the lake is written. Paths are '/'-separated and relative to the lake root. The local
 * folder adapter is here; S3 comes behind the same interface.
 */
import type { RecordBatch, Schema } from 'apache-arrow';
import type { ParquetWriteOptions, WrittenFile } from './parquet.js';

/** A file open for reads at any offset. */
export interface RandomRead {
  readonly size: number;
  /** `length` bytes from `offset`, in a buffer of their own (8-byte aligned); fails on a short read. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface Target {
  /** Shown to people: a folder path or an s3:// URI. */
  readonly description: string;
  /** A small file's text, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** A small file's text with a version token (for `writeIfUnchanged`), or undefined when absent. */
  readVersioned(path: string): Promise<{ text: string; version: string } | undefined>;
  readBytes(path: string): Promise<Uint8Array>;
  /**
   * Stores where reading part of a file is cheap (a local folder): the file opened for reads
   * at any offset. A reduce task reads its spills so, a column at a time. Left out where each
   * read is a request (S3): there the reduce reads spills whole.
   */
  openRead?(path: string): Promise<RandomRead>;
  /** A file's size in bytes, or undefined when it does not exist. */
  size(path: string): Promise<number | undefined>;
  /**
   * Writes a file so that readers see the old or the new content, never a mix. The content
   * may come in parts (written one after another, not joined first: spills are written so).
   */
  writeAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /**
   * Writes a small file atomically only if it is still at `version` (undefined: only if it does
   * not exist). Returns false when another writer changed it first.
   */
  writeIfUnchanged(path: string, bytes: Uint8Array, version: string | undefined): Promise<boolean>;
  /**
   * Whether `writeIfUnchanged` is a real compare-and-swap on this store (S3 and most stores
   * honour conditional PUTs; some S3-compatible servers ignore them). Without it the commit
   * also takes a lock object.
   */
  hasCompareAndSwap(): Promise<boolean>;
  /** Streams batches into a Parquet file; nothing is left at `path` on failure. Returns its size and SHA-256. */
  writeParquet(path: string, schema: Schema, batches: AsyncIterable<RecordBatch>, options: ParquetWriteOptions): Promise<WrittenFile>;
  /**
   * Writes a Parquet file encoded beforehand (its bytes in pieces: sink/column-files.ts); nothing
   * is left at `path` on failure (S3: a multipart upload once it passes a part). Returns its size
   * and SHA-256. Optional: a store without it gets every file through `writeParquet`.
   */
  writeEncoded?(path: string, pieces: readonly Uint8Array[]): Promise<WrittenFile>;
  /** Every file below `prefix` (a folder path), recursively. */
  list(prefix: string): Promise<string[]>;
  move(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Removes a folder and everything below it. */
  removeTree(prefix: string): Promise<void>;
  /**
   * Stores with multipart uploads: aborts the unfinished uploads under the lake that began
   * before `startedBefore` (left by runs that died mid-upload; they are invisible but billed).
   * Returns the keys whose uploads were aborted.
   */
  abortStaleUploads?(startedBefore: Date): Promise<string[]>;
}
