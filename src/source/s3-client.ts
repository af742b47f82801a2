/**
 * The S3 client both the S3 source and the S3 target use (the only place that configures the
 * AWS SDK; see ../shared/docs/js-libraries.md §Q5).
 *
 * - Credentials: the SDK's default chain (environment, shared profile `--profile`, SSO,
 *   container or instance role). With `--role-arn` (or `--account-id` + `--role-name`) and
 *   `--external-id`, that identity assumes the role, the way Stitch and Fivetran read a Heap
 *   bucket; the SDK refreshes the temporary credentials before they expire on long runs.
 * - `--endpoint` (MinIO, R2, a local server): path-style addressing, and checksums only when
 *   an operation requires them — with the SDK's default, a streamed PutObject is stored with
 *   its aws-chunked framing inside by several S3-compatible servers (silently corrupt).
 * - Retries: the SDK's standard strategy (exponential backoff with jitter) for throttling
 *   (503 SlowDown), 5xx, timeouts and connection resets, bounded by `maxAttempts`, with
 *   connection and request timeouts so a stalled socket cannot hang a run.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
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

export function createS3Client(options: S3Options, assumeRole: boolean): S3Client {
  const base = options.credentials ?? fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  const roleArn = assumeRole ? roleArnOf(options) : undefined;
  const credentials = roleArn
    ? fromTemporaryCredentials({
        masterCredentials: base,
        params: { RoleArn: roleArn, RoleSessionName: 'heaplake', ...(options.externalId ? { ExternalId: options.externalId } : {}), DurationSeconds: 3600 },
        ...(options.region ? { clientConfig: { region: options.region } } : {}),
      })
    : base;
  return new S3Client({
    region: options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
    credentials,
    maxAttempts: options.maxAttempts ?? 6,
    retryMode: 'standard',
    // the SDK builds its Node HTTP handler from these options
    // requestTimeout bounds the wait for a response (throwOnRequestTimeout: without it this SDK
    // only logs a warning and keeps waiting); socketTimeout bounds a body that stops flowing
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
      socketTimeout: options.requestTimeoutMs ?? 60_000,
    },
    ...(options.endpoint
      ? { endpoint: options.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  });
}
