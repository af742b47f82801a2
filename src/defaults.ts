/**
 * Every default in one place, so the CLI help, the library and the docs agree.
 */

/** Ceilings applied to declared sizes before anything is allocated (hostile-input guards). */
export interface ReadLimits {
  /** Largest container header (magic + metadata + sync) in bytes. */
  maxHeaderBytes: number;
  /** Largest compressed block in bytes. */
  maxBlockBytes: number;
  /** Largest decompressed block in bytes (decompression-bomb guard). */
  maxDecompressedBlockBytes: number;
  /** Most records in one block when the schema lets a record take zero bytes. */
  maxBlockRecords: number;
  /** Most items in one array/map block when an item can take zero bytes. */
  maxCollectionItems: number;
  /** Deepest schema nesting accepted. */
  maxSchemaDepth: number;
}

export const DEFAULT_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxHeaderBytes: 16 * 1024 * 1024,
  maxBlockBytes: 256 * 1024 * 1024,
  maxDecompressedBlockBytes: 256 * 1024 * 1024,
  maxBlockRecords: 16 * 1024 * 1024,
  maxCollectionItems: 16 * 1024 * 1024,
  maxSchemaDepth: 64,
});

/** Record batches are cut at whichever bound is reached first. */
export interface BatchBounds {
  /** Most rows per RecordBatch. */
  maxRows: number;
  /** Most bytes of decompressed Avro input behind one RecordBatch. */
  maxBytes: number;
}

/**
 * Why 16 Ki rows and 8 MiB: each batch's columns are fresh allocations; kept below a few
 * hundred KiB each, the allocator recycles the memory of batches already dropped, while larger
 * ones come as new pages from the OS, which cost more to touch than the decoding itself on
 * the VMs measured (200k Heap-like rows read repeatedly in one process: 0.27 s with 8–16 Ki-row
 * batches, 0.44 s with 64 Ki). Parquet row groups are sized by the writer, not by these batches.
 */
export const DEFAULT_BATCH: Readonly<BatchBounds> = Object.freeze({
  maxRows: 16 * 1024,
  maxBytes: 8 * 1024 * 1024,
});

export const PARQUET_COMPRESSIONS = ['zstd', 'snappy', 'gzip', 'brotli', 'lz4', 'none'] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];
export const DEFAULT_PARQUET_COMPRESSION: ParquetCompression = 'zstd';
/** Rows per Parquet row group when streaming a file out. */
export const DEFAULT_ROW_GROUP_ROWS = 128 * 1024;

/**
 * Most Avro input per task. A table with more is split by key into buckets of about this much
 * input each (map tasks spill its rows by bucket, one reduce task per bucket), so a task's
 * memory does not grow with the table. Each bucket is a file of its own in every partition.
 */
export const DEFAULT_MAX_TASK_BYTES = 32 * 1024 * 1024;

/**
 * Decoded bytes a map task holds before it spills them, per machine: each of `workers`
 * processes holds this much divided by their number (a map task's peak is about twice what it
 * holds: the held rows and the spill being written). 10M-row bench export, two processes, sum
 * of both processes' RSS: 527-532 MiB with 32 MiB each against 574 with 64 each (scratch A/B);
 * at 1M rows the smaller spills cost two processes ~7 % of their time (7.06 against 6.62 s,
 * medians of 4; bench/results/memory-2026-12-08.md has the whole change of that day).
 */
export const SPILL_BYTES = 64 * 1024 * 1024;

/** Spill files a task reads or writes at once: libuv's thread pool, where file I/O runs, has four threads. */
export const SPILL_IO_AT_ONCE = 4;
