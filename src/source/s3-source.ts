/**
 * A Heap export in an S3 bucket (`s3://heap-rs3-…[/prefix]`).
 *
 * Listing follows continuation tokens to the end. Objects are streamed (never buffered
 * whole): when a body breaks off, the read resumes with a `Range` request pinned to the
 * object's ETag (`If-Match`), so a changed object fails instead of mixing two versions; a
 * body that ends before its Content-Length is resumed the same way, and is an error once
 * the attempts run out — never a silent early EOF.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { HeaplakeError, asHeaplakeError } from '../errors.js';
import { isSafeKey, type Source, type SourceObject } from './source.js';
import { createS3Client, parseS3Uri, type S3Options } from './s3-client.js';
import { concatBytes } from '../bytes.js';

export interface S3SourceOptions extends S3Options {
  /** Attempts to finish one object's body (resumes included; default 5). */
  bodyAttempts?: number;
  /** Where warnings go (a bucket name that differs, resumed bodies). */
  onWarning?: (message: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function s3Source(uri: string, options: S3SourceOptions = {}, client?: S3Client): Source {
  const { bucket, prefix } = parseS3Uri(uri);
  const s3 = client ?? createS3Client(options, true);
  const attempts = options.bodyAttempts ?? 5;
  if (!/^(heap|csq)-rs3-/.test(bucket)) options.onWarning?.(`bucket "${bucket}" does not follow Heap's heap-rs3-/csq-rs3- naming; reading it anyway`);
  const keyOf = (key: string): string => {
    if (!isSafeKey(key)) throw new HeaplakeError('SOURCE_IO', `unsafe key ${JSON.stringify(key)}`, { file: key });
    return prefix + key;
  };
  const fail = (err: unknown, key: string): HeaplakeError => asHeaplakeError(err, 'SOURCE_IO', { file: `s3://${bucket}/${prefix}${key}` });

  return {
    description: `s3://${bucket}/${prefix}`,
    bucket,
    async *list(listPrefix: string): AsyncIterable<SourceObject> {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + listPrefix, ...(token ? { ContinuationToken: token } : {}) }));
        } catch (err) {
          throw fail(err, listPrefix);
        }
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || !o.Key.startsWith(prefix)) continue;
          yield { key: o.Key.slice(prefix.length), size: o.Size ?? 0, ...(o.ETag ? { etag: o.ETag } : {}) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async size(key: string): Promise<number | undefined> {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
        return head.ContentLength ?? 0;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return undefined;
        throw fail(err, key);
      }
    },
    read(key: string, etag?: string): AsyncIterable<Uint8Array> {
      return readObject(s3, bucket, keyOf(key), attempts, options.onWarning, etag);
    },
    async readAll(key: string): Promise<Uint8Array> {
      const parts: Uint8Array[] = [];
      for await (const chunk of readObject(s3, bucket, keyOf(key), attempts, options.onWarning)) parts.push(chunk);
      return concatBytes(parts);
    },
  };
}

/** Streams one object, resuming broken or short bodies from where they stopped. */
async function* readObject(s3: S3Client, bucket: string, key: string, attempts: number, onWarning?: (m: string) => void, planned?: string): AsyncGenerator<Uint8Array> {
  const where = `s3://${bucket}/${key}`;
  let received = 0;
  let total: number | undefined;
  let etag: string | undefined = planned;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(Math.min(5000, 100 * 2 ** attempt * (0.5 + Math.random())));
    let response;
    try {
      response = await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(received > 0 ? { Range: `bytes=${received}-` } : {}),
          ...(etag ? { IfMatch: etag } : {}),
        }),
      );
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) throw new HeaplakeError('SOURCE_IO', `${where} changed after the run planned it or while it was being read (its ETag no longer matches)`, { file: where }, { cause: err });
      if (status === 404 || status === 403) throw asHeaplakeError(err, 'SOURCE_IO', { file: where });
      lastError = err;
      continue;
    }
    etag ??= response.ETag;
    if (total === undefined) total = received + (response.ContentLength ?? 0);
    try {
      for await (const chunk of response.Body as AsyncIterable<Uint8Array>) {
        received += chunk.length;
        yield chunk;
      }
    } catch (err) {
      lastError = err;
      onWarning?.(`${where}: the body broke off after ${received} of ${total} bytes; resuming`);
      continue;
    }
    if (received === total) return;
    lastError = new Error(`body ended after ${received} of ${total} bytes`);
    onWarning?.(`${where}: the body ended after ${received} of ${total} bytes; resuming`);
  }
  throw new HeaplakeError('SOURCE_IO', `cannot read ${where} completely (${received} of ${total ?? '?'} bytes after ${attempts} attempts): ${(lastError as Error)?.message ?? lastError}`, { file: where }, { cause: lastError });
}
