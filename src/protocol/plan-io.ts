/**
 * Reading and writing a plan file at a path or an `s3://bucket/key` URI (a plan made on one
 * machine is read by every task of a cluster), through the lake targets' own adapters.
 */
import { basename, dirname, resolve } from 'node:path';
import { HeaplakeError } from '../errors.js';
import { localTarget } from '../sink/local-target.js';
import type { S3TargetOptions } from '../sink/s3-target.js';
import { lazyS3Target } from '../sink/lazy-s3.js';
import type { Target } from '../sink/target.js';
import { encodePlan, parsePlan, type PlanFile } from './plan-file.js';

function place(uri: string, s3?: S3TargetOptions): { target: Target; name: string } {
  if (uri.startsWith('s3://')) {
    const slash = uri.lastIndexOf('/');
    if (slash < 's3://'.length) throw new HeaplakeError('USAGE', `a plan URI needs a key: ${uri}`);
    return { target: lazyS3Target(uri.slice(0, slash), s3), name: uri.slice(slash + 1) };
  }
  return { target: localTarget(dirname(resolve(uri))), name: basename(uri) };
}

export async function readPlan(uri: string, s3?: S3TargetOptions): Promise<PlanFile> {
  const { target, name } = place(uri, s3);
  const text = await target.readText(name);
  if (text === undefined) throw new HeaplakeError('PLAN', `no plan at ${uri}`, { file: uri });
  return parsePlan(text, uri);
}

export async function writePlan(uri: string, plan: PlanFile, s3?: S3TargetOptions): Promise<void> {
  const { target, name } = place(uri, s3);
  await target.writeAtomic(name, new TextEncoder().encode(encodePlan(plan)));
}
