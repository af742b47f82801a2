/**
 * One typed error family for everything heaplake throws on purpose.
 *
 * Every error carries a stable `code` (for exit codes, retries and tests), the standard
 * `cause`, and a `context` saying where it happened: the file (path or S3 key), the block
 * index, the byte offset in the file, the record index inside the block and the field path.
 * Messages are built only on the error path.
 */

export type ErrorCode =
  // container framing
  | 'AVRO_BAD_MAGIC'
  | 'AVRO_LEGACY_CONTAINER'
  | 'AVRO_BAD_HEADER'
  | 'AVRO_TRUNCATED'
  | 'AVRO_TRAILING_DATA'
  | 'AVRO_SYNC_MISMATCH'
  | 'AVRO_BAD_BLOCK'
  | 'AVRO_LIMIT'
  // codecs
  | 'AVRO_UNSUPPORTED_CODEC'
  | 'AVRO_CODEC'
  | 'AVRO_CRC_MISMATCH'
  // schema
  | 'AVRO_SCHEMA'
  // values inside a block
  | 'AVRO_BLOCK_OVERRUN'
  | 'AVRO_BLOCK_UNREAD'
  | 'AVRO_BAD_VALUE'
  | 'AVRO_INVALID_UTF8'
  // valid input we do not handle
  | 'UNSUPPORTED'
  // Heap export semantics
  | 'MANIFEST'
  | 'TIME_PARSE'
  /** the lake's own metadata (_heaplake/) is unreadable or inconsistent */
  | 'STATE'
  /** another run committed to the same lake first */
  | 'CONCURRENT_COMMIT'
  /** a plan file that is malformed or altered, or whose tasks have not all left a receipt */
  | 'PLAN'
  // everything around the data
  | 'USAGE'
  /** reading the input failed (missing file, network) */
  | 'SOURCE_IO'
  /** writing the output failed */
  | 'IO'
  | 'PARQUET';

export interface ErrorContext {
  /** Path or S3 key of the input file. */
  file?: string;
  /** Zero-based index of the Avro block. */
  block?: number;
  /** Byte offset in the file (for block contents: where the block's data starts). */
  offset?: number;
  /** Byte offset inside the decompressed block data. */
  blockOffset?: number;
  /** Zero-based record index inside the block. */
  record?: number;
  /** Dotted path of the field, e.g. `properties.value`. */
  field?: string;
}

export class HeaplakeError extends Error {
  override readonly name: string = 'HeaplakeError';
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  /** The message without the location suffix. */
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(detail + describeContext(context), options);
    this.code = code;
    this.detail = detail;
    this.context = context;
  }

  /** A copy of this error with more context (known only to an outer layer, e.g. the file name). */
  withContext(extra: ErrorContext): HeaplakeError {
    const merged = { ...extra, ...this.context };
    for (const k of Object.keys(extra) as (keyof ErrorContext)[]) {
      if (merged[k] === undefined) delete merged[k];
    }
    const Ctor = this.constructor as new (
      code: ErrorCode,
      detail: string,
      context: ErrorContext,
      options?: { cause?: unknown },
    ) => HeaplakeError;
    const copy = new Ctor(this.code, this.detail, merged, { cause: this.cause });
    copy.stack = this.stack;
    return copy;
  }
}

/** Corrupt, truncated or malformed Avro input. */
export class AvroFormatError extends HeaplakeError {
  override readonly name = 'AvroFormatError';
}

/** A writer schema that is not valid Avro. */
export class AvroSchemaError extends HeaplakeError {
  override readonly name = 'AvroSchemaError';
}

/** Valid input that heaplake does not handle (e.g. a recursive schema). */
export class UnsupportedError extends HeaplakeError {
  override readonly name = 'UnsupportedError';
}

/** A Heap sync manifest that is missing, malformed or inconsistent. */
export class ManifestError extends HeaplakeError {
  override readonly name = 'ManifestError';
}

/** Bad command-line or library arguments. */
export class UsageError extends HeaplakeError {
  override readonly name = 'UsageError';
}

/** Failure while writing output (file system, Parquet encoder, object store). */
export class SinkError extends HeaplakeError {
  override readonly name = 'SinkError';
}

function describeContext(c: ErrorContext): string {
  const parts: string[] = [];
  if (c.file !== undefined) parts.push(`in ${c.file}`);
  if (c.block !== undefined) parts.push(`block ${c.block}`);
  if (c.offset !== undefined) parts.push(`offset ${c.offset}`);
  if (c.record !== undefined) parts.push(`record ${c.record}`);
  if (c.blockOffset !== undefined) parts.push(`byte ${c.blockOffset} of block data`);
  if (c.field !== undefined) parts.push(`field "${c.field}"`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** Wraps anything thrown by a lower layer so callers only ever see HeaplakeError. */
export function asHeaplakeError(err: unknown, fallback: ErrorCode, context: ErrorContext = {}): HeaplakeError {
  if (err instanceof HeaplakeError) return err.withContext(context);
  const message = err instanceof Error ? err.message : String(err);
  return new HeaplakeError(fallback, message, context, { cause: err });
}
