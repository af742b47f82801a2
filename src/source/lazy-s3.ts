/**
 * An s3:// source whose AWS SDK is loaded on first use: importing the SDK costs ~0.3 s, which
 * every local run and every worker process would otherwise pay.
 */
import type { Source } from './source.js';
import type { S3SourceOptions } from './s3-source.js';
import { parseS3Uri } from './s3-uri.js';

export function lazyS3Source(uri: string, options: S3SourceOptions = {}): Source {
  const { bucket, prefix } = parseS3Uri(uri);
  let real: Promise<Source> | undefined;
  const get = () => (real ??= import('./s3-source.js').then((m) => m.s3Source(uri, options)));
  return {
    description: `s3://${bucket}/${prefix}`,
    bucket,
    async *list(listPrefix) {
      yield* (await get()).list(listPrefix);
    },
    size: async (key) => (await get()).size(key),
    async *read(key, etag) {
      yield* (await get()).read(key, etag);
    },
    readAll: async (key) => (await get()).readAll(key),
  };
}
