/**
 * A lake in an S3 bucket (`s3://bucket[/prefix]`).
 *
 * Parquet files stream from the encoder into a lib-storage multipart `Upload` (bounded part
 * size and queue, so memory stays bounded); a failed upload is aborted, so no half-written
 * object ever appears. S3 has no rename: `move` is a server-side copy then a delete. The state
 * is written with a conditional PUT (`If-Match` on the ETag read at the start of the run, or
 * `If-None-Match: *` for a new lake): of two runs racing to commit, the second gets 412 and
 * fails without changing anything. Stores that ignore conditional headers give no such
 * protection (see the README). Multipart uploads left by a run that died mid-upload are
 * aborted by the next run that commits (only those begun before it started: any run that old
 * can no longer commit, since the state it read has changed).
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import { SinkError } from '../errors.js';
import { sha256Hex } from '../bytes.js';
import { isSafeKey } from '../source/source.js';
import { createS3Client, parseS3Uri, type S3Options } from '../source/s3-client.js';
import { deliverParquet } from './parquet.js';
import type { Target } from './target.js';

export interface S3TargetOptions extends S3Options {
  /** Multipart part size in bytes (≥ 5 MiB; default 8 MiB). */
  partSize?: number;
  /** Parts uploaded at once (default 2: memory ≈ partSize × (queueSize + 1)). */
  queueSize?: number;
}

const status = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const missing = (err: unknown): boolean => status(err) === 404 || (err as Error).name === 'NoSuchKey' || (err as Error).name === 'NotFound';

export function s3Target(uri: string, options: S3TargetOptions = {}, client?: S3Client): Target {
  const { bucket, prefix } = parseS3Uri(uri);
  // the target is written with the caller's own identity, never the role assumed for Heap's bucket
  const s3 = client ?? createS3Client(options, false);
  const keyOf = (path: string): string => {
    if (!isSafeKey(path)) throw new SinkError('IO', `unsafe lake path ${JSON.stringify(path)}`, { file: path });
    return prefix + path;
  };
  const where = (path: string) => `s3://${bucket}/${prefix}${path}`;
  const uploadPartSize = Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024);
  const uploadQueueSize = options.queueSize ?? 2;
  const io = async <T>(path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw new SinkError('IO', `${where(path)}: ${(err as Error).message}`, { file: where(path) }, { cause: err });
    }
  };
  const getText = async (path: string): Promise<{ text: string; version: string } | undefined> => {
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(path) }));
      return { text: await r.Body!.transformToString('utf8'), version: r.ETag ?? '' };
    } catch (err) {
      if (missing(err)) return undefined;
      throw new SinkError('IO', `${where(path)}: ${(err as Error).message}`, { file: where(path) }, { cause: err });
    }
  };
  const list = async (path: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    const listPrefix = path ? `${keyOf(path)}/` : prefix;
    do {
      const page = await io(path, () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: listPrefix, ...(token ? { ContinuationToken: token } : {}) })));
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key.slice(prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  };

  let casSupport: Promise<boolean> | undefined;
  // a store that accepts a second `If-None-Match: *` PUT of one key ignores conditions
  const probeCas = async (): Promise<boolean> => {
    const probe = `_heaplake/probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const put = () =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(probe), Body: 'probe', IfNoneMatch: '*' })).then(
        () => true,
        (err: unknown) => {
          if (status(err) === 412 || status(err) === 409) return false;
          throw err;
        },
      );
    try {
      await io(probe, put);
      return !(await io(probe, put));
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(probe) })).catch(() => undefined);
    }
  };

  return {
    description: `s3://${bucket}/${prefix}`,
    hasCompareAndSwap: () => (casSupport ??= probeCas()),
    readText: async (path) => (await getText(path))?.text,
    readVersioned: getText,
    readBytes: (path) =>
      io(path, async () => {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(path) }));
        return r.Body!.transformToByteArray();
      }),
    async size(path) {
      try {
        return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(path) }))).ContentLength ?? 0;
      } catch (err) {
        if (missing(err)) return undefined;
        throw new SinkError('IO', `${where(path)}: ${(err as Error).message}`, { file: where(path) }, { cause: err });
      }
    },
    writeAtomic: (path, bytes) =>
      io(path, async () => void (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(path), Body: bytes instanceof Uint8Array ? bytes : Buffer.concat(bytes) })))),
    async writeIfUnchanged(path, bytes, version) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(path), Body: bytes, ...(version === undefined ? { IfNoneMatch: '*' } : { IfMatch: version }) }));
        return true;
      } catch (err) {
        if (status(err) === 412 || status(err) === 409) return false;
        throw new SinkError('IO', `${where(path)}: ${(err as Error).message}`, { file: where(path) }, { cause: err });
      }
    },
    writeEncoded: (path, pieces) =>
      io(path, async () => {
        // one PUT below a part's size, else a multipart upload (aborted on failure)
        const body = Readable.from(pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
        await new Upload({ client: s3, params: { Bucket: bucket, Key: keyOf(path), Body: body }, partSize: uploadPartSize, queueSize: uploadQueueSize, leavePartsOnError: false }).done();
        return { bytes: pieces.reduce((n, p) => n + p.byteLength, 0), sha256: sha256Hex(pieces) };
      }),
    async writeParquet(path, schema, batches, parquetOptions) {
      let upload: Upload | undefined;
      return deliverParquet(
        where(path),
        schema,
        batches,
        parquetOptions,
        async (stream) => {
          const body = new PassThrough();
          stream.on('error', (err) => body.destroy(err));
          stream.pipe(body);
          upload = new Upload({
            client: s3,
            params: { Bucket: bucket, Key: keyOf(path), Body: body },
            partSize: uploadPartSize,
            queueSize: uploadQueueSize,
            leavePartsOnError: false, // a failed upload aborts its multipart upload
          });
          await upload.done();
        },
        async () => {
          await upload?.abort().catch(() => undefined);
        },
      );
    },
    list,
    move: (from, to) =>
      io(to, async () => {
        // URL-encoded, keeping '/' and '=' (partition folders) as they are
        const source = `${bucket}/${keyOf(from).split('/').map((part) => encodeURIComponent(part).replace(/%3D/g, '=')).join('/')}`;
        await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: keyOf(to), CopySource: source }));
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(from) }));
      }),
    remove: (path) => io(path, async () => void (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(path) })))),
    async abortStaleUploads(startedBefore) {
      const aborted: string[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        let page;
        try {
          page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}) }));
        } catch (err) {
          // some S3-compatible servers do not list uploads: nothing to do there
          if ([400, 404, 405, 501].includes(status(err) ?? 0)) return aborted;
          throw new SinkError('IO', `listing the unfinished uploads of s3://${bucket}/${prefix}: ${(err as Error).message}`, { file: `s3://${bucket}/${prefix}` }, { cause: err });
        }
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= startedBefore) continue;
          await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId })).catch((err: unknown) => {
            if (status(err) !== 404) throw new SinkError('IO', `aborting the upload of ${u.Key}: ${(err as Error).message}`, { file: u.Key! }, { cause: err });
          });
          aborted.push(u.Key.slice(prefix.length));
        }
        if (!page.IsTruncated) return aborted;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    },
    async removeTree(path) {
      const keys = await list(path);
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        await io(path, () => s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((k) => ({ Key: prefix + k })), Quiet: true } })));
      }
    },
  };
}
