/** S3 option parsing (no network). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseS3Uri, roleArnOf } from '../src/source/s3-client.js';
import { HeaplakeError } from '../src/errors.js';

test('s3:// URIs and role options', () => {
  assert.deepStrictEqual(parseS3Uri('s3://heap-rs3-acme'), { bucket: 'heap-rs3-acme', prefix: '' });
  assert.deepStrictEqual(parseS3Uri('s3://lake/a/b/'), { bucket: 'lake', prefix: 'a/b/' });
  for (const bad of ['s3:/x', 'http://b/x', 's3://B/x', 's3://a']) assert.throws(() => parseS3Uri(bad), (e: unknown) => e instanceof HeaplakeError && e.code === 'USAGE', bad);
  assert.equal(roleArnOf({ accountId: '1234-5678-9012', roleName: 'heap' }), 'arn:aws:iam::123456789012:role/heap');
  assert.equal(roleArnOf({ roleArn: 'arn:aws:iam::1:role/x' }), 'arn:aws:iam::1:role/x');
  assert.equal(roleArnOf({}), undefined);
  assert.throws(() => roleArnOf({ accountId: '1' }), /go together/);
});
