/**
 * S3 URIs and settings, without the AWS SDK: what a run needs to know before it touches S3
 * (the SDK itself is loaded only when an s3:// source or target is used; see lazy-s3.ts).
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { UsageError } from '../errors.js';

export interface S3Options {
  region?: string;
  /** An S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style addressing then). */
  endpoint?: string;
  /**
   * Credentials, or a provider the SDK calls again before they expire (library use: a
   * provider of your own). Default: the SDK's chain.
   */
  credentials?: S3ClientConfig['credentials'];
  /** A shared-config profile for the default credential chain. */
  profile?: string;
  /** A role to assume for reading (Heap's bucket) — or give accountId + roleName. */
  roleArn?: string;
  accountId?: string;
  roleName?: string;
  externalId?: string;
  /** Attempts per request, retries included (default 6). */
  maxAttempts?: number;
  /** Milliseconds without progress before a request is abandoned and retried (default 60 s). */
  requestTimeoutMs?: number;
}

/** `s3://bucket[/prefix]` → its parts; the prefix has no leading and one trailing slash (or is empty). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) throw new UsageError('USAGE', `not an s3://bucket[/prefix] URI: ${JSON.stringify(uri)}`);
  const prefix = m[2]!.replace(/^\/+|\/+$/g, '');
  return { bucket: m[1]!, prefix: prefix ? `${prefix}/` : '' };
}

export function roleArnOf(options: S3Options): string | undefined {
  if (options.roleArn) return options.roleArn;
  if (options.accountId || options.roleName) {
    if (!options.accountId || !options.roleName) throw new UsageError('USAGE', '--account-id and --role-name go together (or give --role-arn)');
    // account ids are often written with hyphens (1234-5678-9012)
    return `arn:aws:iam::${options.accountId.replace(/-/g, '')}:role/${options.roleName}`;
  }
  return undefined;
}

