/**
 * An s3:// lake whose AWS SDK is loaded on first use (see ../source/lazy-s3.ts for why).
 */
import type { Target } from './target.js';
import type { S3TargetOptions } from './s3-target.js';
import { parseS3Uri } from '../source/s3-uri.js';

export function lazyS3Target(uri: string, options: S3TargetOptions = {}): Target {
  const { bucket, prefix } = parseS3Uri(uri);
  let real: Promise<Target> | undefined;
  const get = () => (real ??= import('./s3-target.js').then((m) => m.s3Target(uri, options)));
  return {
    description: `s3://${bucket}/${prefix}`,
    readText: async (path) => (await get()).readText(path),
    readVersioned: async (path) => (await get()).readVersioned(path),
    readBytes: async (path) => (await get()).readBytes(path),
    size: async (path) => (await get()).size(path),
    writeAtomic: async (path, bytes) => (await get()).writeAtomic(path, bytes),
    writeIfUnchanged: async (path, bytes, version) => (await get()).writeIfUnchanged(path, bytes, version),
    hasCompareAndSwap: async () => (await get()).hasCompareAndSwap(),
    writeParquet: async (path, schema, batches, options) => (await get()).writeParquet(path, schema, batches, options),
    list: async (path) => (await get()).list(path),
    move: async (from, to) => (await get()).move(from, to),
    remove: async (path) => (await get()).remove(path),
    removeTree: async (path) => (await get()).removeTree(path),
    abortStaleUploads: async (before) => (await get()).abortStaleUploads?.(before) ?? [],
  };
}
