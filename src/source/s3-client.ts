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
import { S3Client } from '@aws-sdk/client-s3';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { roleArnOf, type S3Options } from './s3-uri.js';

export { parseS3Uri, roleArnOf, type S3Options } from './s3-uri.js';

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
