/**
 * Where a Heap export is read from. Keys are '/'-separated paths relative to the export root
 * (`manifests/sync_852.json`, `sync_852/pageviews/part-00000-….avro`), whatever the backend.
 * The local folder adapter is here; S3 comes behind the same interface.
 */
export interface SourceObject {
  readonly key: string;
  readonly size: number;
  /** The object's version (S3 ETag), when the backend has one. */
  readonly etag?: string;
}

export interface Source {
  /** Shown to people: a folder path or an s3:// URI. */
  readonly description: string;
  /** The bucket the export's manifests name, when the backend knows it (S3); undefined locally. */
  readonly bucket: string | undefined;
  /** Every object whose key starts with `prefix`, in any order. */
  list(prefix: string): AsyncIterable<SourceObject>;
  /** The object's size, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  /**
   * The object's bytes, streamed in chunks. With `etag`, the read fails (SOURCE_IO) if the
   * object is no longer that version: what was planned is what is read.
   */
  read(key: string, etag?: string): AsyncIterable<Uint8Array>;
  /** A small object's bytes at once (manifests). */
  readAll(key: string): Promise<Uint8Array>;
}

/** Rejects keys that could leave the export root. */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || key.startsWith('/') || key.includes('\\') || key.includes('\0')) return false;
  return key.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
