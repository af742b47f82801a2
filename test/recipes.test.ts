/**
 * The scheduler recipes, checked without a cluster: the Kubernetes Indexed Job and the AWS
 * Batch array job generated for a real plan are read back, their task count compared with the
 * plan's, and the very commands they hold run here with the index variable each scheduler
 * sets; the lake must be the one `convert` makes. The IAM policy must allow every S3 call the
 * code makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../src/convert.js';
import { FIXTURES, ROOT } from './helpers/paths.js';
import { exportWith, publishedFiles } from './helpers/lake.js';

const EXPORT = join(FIXTURES, 'heap-export');
const BIN = join(ROOT, 'dist/cli/bin.js');
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `heaplake-recipes-${what}-`));
const heaplake = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env } });
const lakeOf = publishedFiles;

/** Tasks of at most this much input: the fixture's bigger tables split, so the plan has two stages. */
const MAX_TASK_BYTES = 3000;

async function planned(): Promise<{ lake: string; reference: string; plan: string; tasks: number; stages: number[][] }> {
  const lake = tmp('lake');
  await convert({ source: exportWith(EXPORT, ['sync_852.json']), target: lake, maxTaskBytes: MAX_TASK_BYTES });
  const reference = tmp('reference');
  cpSync(lake, reference, { recursive: true });
  await convert({ source: EXPORT, target: reference, maxTaskBytes: MAX_TASK_BYTES });
  const plan = join(tmp('plan'), 'plan.json');
  assert.equal(heaplake(['plan', '--source', EXPORT, '--target', lake, '--max-task-mb', String(MAX_TASK_BYTES / 1024 / 1024), '--out', plan]).status, 0);
  const json = JSON.parse(readFileSync(plan, 'utf8'));
  assert.equal(json.stages.length, 2, 'a plan with a split table: map tasks, then reduce tasks');
  return { lake, reference, plan, tasks: json.tasks.length, stages: json.stages };
}

test('the Kubernetes recipe: an Indexed Job per stage with one completion per task; their commands, run with JOB_COMPLETION_INDEX, then the commit Job, give convert\'s lake', async () => {
  const { lake, reference, plan, tasks, stages } = await planned();
  const r = heaplake(['recipe', 'kubernetes', '--plan', plan, '--image', 'registry.example/heaplake:1', '--namespace', 'data', '--service-account', 'heaplake', '--parallelism', '2']);
  assert.equal(r.status, 0, r.stderr);
  const docs = r.stdout.split('\n---\n');
  assert.equal(docs.length, stages.length + 1, 'a Job per stage, then the commit');
  const commit = docs.pop()!;
  const args = (doc: string) => JSON.parse(/^ {10}args: (\[.*\])$/m.exec(doc)![1]!) as string[];
  let ran = 0;
  for (const [s, jobs] of docs.entries()) {
    assert.match(jobs, /^kind: Job$/m);
    assert.match(jobs, /^  completionMode: Indexed$/m);
    assert.equal(Number(/^  completions: (\d+)$/m.exec(jobs)![1]), stages[s]!.length);
    assert.equal(Number(/^  parallelism: (\d+)$/m.exec(jobs)![1]), Math.min(2, stages[s]!.length));
    assert.match(jobs, /^  backoffLimitPerIndex: \d+$/m);
    assert.match(jobs, /^      serviceAccountName: heaplake$/m);
    assert.match(jobs, /^  namespace: data$/m);
    for (let i = 0; i < stages[s]!.length; i++, ran++) {
      const t = heaplake([...args(jobs), '--quiet'], { JOB_COMPLETION_INDEX: String(i) });
      assert.equal(t.status, 0, t.stderr);
    }
  }
  assert.equal(ran, tasks, 'every task of the plan ran once');
  assert.deepStrictEqual(args(commit).slice(0, 1), ['commit']);
  assert.equal(heaplake(args(commit)).status, 0);
  assert.deepStrictEqual(lakeOf(lake), lakeOf(reference));
});

test('the AWS Batch recipe: an array job per stage, each depending on the one before, and a commit job after the last; run with AWS_BATCH_JOB_ARRAY_INDEX, the same lake', async () => {
  const { lake, reference, plan, tasks, stages } = await planned();
  const r = heaplake(['recipe', 'aws-batch', '--plan', plan, '--image', 'registry.example/heaplake:1', '--job-queue', 'heaplake-queue', '--job-role-arn', 'arn:aws:iam::123456789012:role/heaplake']);
  assert.equal(r.status, 0, r.stderr);
  const batch = JSON.parse(r.stdout);
  assert.equal(batch.taskCount, tasks);
  assert.equal(batch.stageJobs.length, stages.length);
  assert.equal(batch.commitJob.dependsOn.length, 1);
  assert.equal(batch.jobDefinition.containerProperties.jobRoleArn, 'arn:aws:iam::123456789012:role/heaplake');
  for (const [s, job] of batch.stageJobs.entries()) {
    assert.equal(job.arrayProperties.size, stages[s]!.length);
    assert.equal(job.jobDefinition, batch.jobDefinition.jobDefinitionName);
    assert.equal(job.dependsOn?.length ?? 0, s === 0 ? 0 : 1);
    for (let i = 0; i < stages[s]!.length; i++) {
      const t = heaplake([...job.containerOverrides.command, '--quiet'], { AWS_BATCH_JOB_ARRAY_INDEX: String(i) });
      assert.equal(t.status, 0, t.stderr);
    }
  }
  assert.equal(heaplake(batch.commitJob.containerOverrides.command).status, 0);
  assert.deepStrictEqual(lakeOf(lake), lakeOf(reference));
  assert.equal(heaplake(['recipe', 'aws-batch', '--plan', plan, '--image', 'x']).status, 2, 'a job queue is required');
});

test('the IAM policy in deploy/aws allows every S3 call heaplake makes, on the right bucket', () => {
  const policy = JSON.parse(readFileSync(join(ROOT, 'deploy/aws/iam-policy.json'), 'utf8')) as { Statement: { Action: string[]; Resource: string }[] };
  const allowed = (action: string, resource: RegExp) => policy.Statement.some((s) => s.Action.includes(action) && resource.test(s.Resource));
  const calls = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else for (const m of readFileSync(p, 'utf8').matchAll(/new (\w+)Command\(/g)) calls.add(m[1]!);
    }
  };
  walk(join(ROOT, 'src'));
  // lib-storage's Upload makes these for us
  for (const c of ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'AbortMultipartUpload']) calls.add(c);
  const needs: Record<string, [string, RegExp][]> = {
    GetObject: [['s3:GetObject', /HEAP_BUCKET\/\*$/], ['s3:GetObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    HeadObject: [['s3:GetObject', /HEAP_BUCKET\/\*$/], ['s3:GetObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    ListObjectsV2: [['s3:ListBucket', /HEAP_BUCKET$/], ['s3:ListBucket', /LAKE_BUCKET$/]],
    PutObject: [['s3:PutObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    CopyObject: [['s3:PutObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/], ['s3:GetObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    DeleteObject: [['s3:DeleteObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    DeleteObjects: [['s3:DeleteObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    CreateMultipartUpload: [['s3:PutObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    UploadPart: [['s3:PutObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    CompleteMultipartUpload: [['s3:PutObject', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    AbortMultipartUpload: [['s3:AbortMultipartUpload', /LAKE_BUCKET\/LAKE_PREFIX\*$/]],
    ListMultipartUploads: [['s3:ListBucketMultipartUploads', /LAKE_BUCKET$/]],
  };
  for (const call of calls) {
    assert.ok(needs[call], `the test knows which IAM action ${call} needs`);
    for (const [action, resource] of needs[call]!) assert.ok(allowed(action, resource), `${call} needs ${action} on ${resource}`);
  }
});

test('deploy/Dockerfile: Node 20 slim, copies what exists, heaplake as the entrypoint with the worker processes\' settings', async () => {
  const { WORKER_NODE_FLAGS, workerEnv } = await import('../src/protocol/worker-pool.js');
  const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  assert.match(dockerfile, /^FROM node:20-slim/m);
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)) {
    for (const path of m[1]!.split(/\s+/)) assert.ok(statSync(join(ROOT, path), { throwIfNoEntry: false }), `COPY ${path}: exists`);
  }
  const bin = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin.heaplake as string;
  const flags = WORKER_NODE_FLAGS.map((f) => `"${f}", `).join('');
  assert.ok(dockerfile.includes(`ENTRYPOINT ["node", ${flags}"/app/${bin}"]`), `the entrypoint runs ${bin} with ${WORKER_NODE_FLAGS.join(' ')}`);
  assert.match(dockerfile, new RegExp(`^\\s*GLIBC_TUNABLES=${workerEnv({}).GLIBC_TUNABLES!.replace(/\./g, '\\.')}$`, 'm'));
});

test('a stage bigger than the scheduler allows (AWS Batch: 10,000 children) is refused with what to change', async () => {
  const { planFile } = await import('../src/convert.js');
  const { batchJobs, kubernetesManifests } = await import('../src/protocol/recipes.js');
  const plan = await planFile({ source: EXPORT, target: tmp('limits') });
  const huge = { ...plan, stages: [Array.from({ length: 10_001 }, (_, i) => i)] };
  assert.throws(() => batchJobs(huge, { planUri: 's3://x/plan.json', image: 'x', jobQueue: 'q' }), (e: Error & { code?: string }) => e.code === 'USAGE' && /10001 tasks.*at most 10000.*--max-task-mb/.test(e.message));
  assert.doesNotThrow(() => kubernetesManifests(huge, { planUri: 's3://x/plan.json', image: 'x' }), 'an Indexed Job holds 100,000');
});
