/**
 * Scheduler definitions for a plan, generated from the plan itself so the task counts and the
 * commands always agree with it: a Kubernetes Indexed Job per stage plus a Job for the commit,
 * or AWS Batch inputs for an array job per stage plus a dependent commit job. No cluster is
 * needed to check them: test/recipes.test.ts runs the very commands they contain, with the
 * index variables the schedulers set, and compares the lake with `convert`'s.
 */
import { UsageError } from '../errors.js';
import type { PlanFile } from './plan-file.js';

/**
 * The most tasks one scheduler job may hold: AWS Batch array jobs have at most 10,000
 * children; Kubernetes Indexed Jobs with a per-index backoff limit at most 100,000 completions.
 */
export const STAGE_LIMITS = { 'aws-batch': 10_000, kubernetes: 100_000 } as const;

function checkStageSizes(plan: PlanFile, scheduler: keyof typeof STAGE_LIMITS): void {
  const limit = STAGE_LIMITS[scheduler];
  plan.stages.forEach((stage, s) => {
    if (stage.length > limit) {
      throw new UsageError(
        'USAGE',
        `stage ${s + 1} of plan ${plan.id} has ${stage.length} tasks; one ${scheduler} job holds at most ${limit}: plan again with a larger --max-task-mb (now ${plan.options.maxTaskBytes / 1024 / 1024})`,
      );
    }
  });
}

export interface RecipeOptions {
  /** Where the tasks read the plan (an s3:// URI on a cluster). */
  readonly planUri: string;
  /** The container image with heaplake as its entrypoint (deploy/Dockerfile). */
  readonly image: string;
  /** Tasks running at once (default: all of them). */
  readonly parallelism?: number;
  /** Memory per task container, in MiB (default 4096). */
  readonly memoryMiB?: number;
  /** Extra arguments for every heaplake command (e.g. `--region eu-west-1`). */
  readonly extraArgs?: readonly string[];
}

export interface KubernetesOptions extends RecipeOptions {
  readonly namespace?: string;
  /** A service account bound to an IAM role (IRSA on EKS). */
  readonly serviceAccount?: string;
  /** A secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (when not using IRSA). */
  readonly secret?: string;
}

export interface BatchOptions extends RecipeOptions {
  readonly jobQueue: string;
  /** The IAM role the containers run as (the job role). */
  readonly jobRoleArn?: string;
}

/** A name for the jobs of a plan: Kubernetes allows 63 characters, lower case. */
const jobName = (plan: PlanFile, what: string) => `heaplake-${what}-${plan.id.replace(/^plan-/, '').slice(0, 12)}`;

/** The command of the tasks of stage `stage` (1-based): each gets its index from the scheduler. */
export function taskCommand(options: RecipeOptions, stage = 1): string[] {
  return ['run-task', '--plan', options.planUri, '--stage', String(stage), ...(options.extraArgs ?? [])];
}

export function commitCommand(options: RecipeOptions): string[] {
  return ['commit', '--plan', options.planUri, ...(options.extraArgs ?? [])];
}

const yamlList = (items: readonly string[]) => `[${items.map((a) => JSON.stringify(a)).join(', ')}]`;

/**
 * Kubernetes Jobs as YAML documents: one Indexed Job per stage of the plan (a split table's
 * reduce tasks are stage 2), then the commit. Apply each once the one before has completed.
 */
export function kubernetesManifests(plan: PlanFile, options: KubernetesOptions): string {
  checkStageSizes(plan, 'kubernetes');
  const memory = options.memoryMiB ?? 4096;
  const ns = options.namespace ? `\n  namespace: ${options.namespace}` : '';
  const pod = (args: string[], mem: number) =>
    [
      `      restartPolicy: Never`,
      ...(options.serviceAccount ? [`      serviceAccountName: ${options.serviceAccount}`] : []),
      `      containers:`,
      `        - name: heaplake`,
      `          image: ${options.image}`,
      `          args: ${yamlList(args)}`,
      ...(options.secret ? [`          envFrom:`, `            - secretRef:`, `                name: ${options.secret}`] : []),
      `          resources:`,
      `            requests: { cpu: "1", memory: "${mem}Mi" }`,
      `            limits: { memory: "${mem}Mi" }`,
    ].join('\n');
  const names = plan.stages.map((_, s) => jobName(plan, `stage${s + 1}`));
  const steps = [
    ...names.flatMap((name, s) => [
      `# ${2 * s + 1}. kubectl apply -f document ${s + 1} (stage ${s + 1}: ${plan.stages[s]!.length} task(s); each pod gets JOB_COMPLETION_INDEX)`,
      `# ${2 * s + 2}. kubectl wait --for=condition=complete job/${name} --timeout=24h`,
    ]),
    `# ${2 * names.length + 1}. kubectl apply -f the last document (the commit)`,
  ];
  const stageJob = (s: number) => {
    const n = plan.stages[s]!.length;
    return [
      `apiVersion: batch/v1`,
      `kind: Job`,
      `metadata:`,
      `  name: ${names[s]}${ns}`,
      `  labels: { app: heaplake, heaplake-plan: ${plan.id}, heaplake-stage: "${s + 1}" }`,
      `spec:`,
      `  completionMode: Indexed`,
      `  completions: ${n}`,
      `  parallelism: ${Math.max(1, Math.min(n, options.parallelism ?? n))}`,
      `  backoffLimitPerIndex: 3`,
      `  maxFailedIndexes: 0`,
      `  template:`,
      `    metadata:`,
      `      labels: { app: heaplake, heaplake-plan: ${plan.id} }`,
      `    spec:`,
      pod(taskCommand(options, s + 1), memory),
    ].join('\n');
  };
  const commit = [
    `apiVersion: batch/v1`,
    `kind: Job`,
    `metadata:`,
    `  name: ${jobName(plan, 'commit')}${ns}`,
    `  labels: { app: heaplake, heaplake-plan: ${plan.id} }`,
    `spec:`,
    `  completions: 1`,
    `  backoffLimit: 3`,
    `  template:`,
    `    spec:`,
    pod(commitCommand(options), 1024),
    ``,
  ].join('\n');
  const header = [`# heaplake plan ${plan.id}: ${plan.tasks.length} task(s) in ${plan.stages.length} stage(s) from ${plan.source} into ${plan.target}`, ...steps].join('\n');
  return header + '\n' + [...plan.stages.map((_, s) => stageJob(s)), commit].join('\n---\n');
}

/**
 * AWS Batch inputs (for `aws batch … --cli-input-json`): a job definition, one array job per
 * stage of the plan (each container gets AWS_BATCH_JOB_ARRAY_INDEX; stage 2 depends on stage
 * 1), and the commit job, which depends on the last stage. `dependsOn` job ids are the
 * previous job's, filled in at submission.
 */
export function batchJobs(plan: PlanFile, options: BatchOptions) {
  checkStageSizes(plan, 'aws-batch');
  const definition = jobName(plan, 'job');
  const container = (command: string[], memory: number) => ({
    command,
    resourceRequirements: [
      { type: 'VCPU', value: '1' },
      { type: 'MEMORY', value: String(memory) },
    ],
  });
  return {
    jobDefinition: {
      jobDefinitionName: definition,
      type: 'container',
      platformCapabilities: ['FARGATE'],
      containerProperties: {
        image: options.image,
        ...(options.jobRoleArn ? { jobRoleArn: options.jobRoleArn, executionRoleArn: options.jobRoleArn } : {}),
        networkConfiguration: { assignPublicIp: 'ENABLED' },
        ...container(taskCommand(options), options.memoryMiB ?? 4096),
      },
      retryStrategy: { attempts: 3 },
    },
    // an array job has 2 to 10,000 children: a stage of one task is a plain job given its index
    stageJobs: plan.stages.map((stage, s) => {
      const n = stage.length;
      const command = taskCommand(options, s + 1);
      return {
        jobName: jobName(plan, `stage${s + 1}`),
        jobQueue: options.jobQueue,
        jobDefinition: definition,
        ...(n > 1 ? { arrayProperties: { size: n } } : {}),
        ...(s > 0 ? { dependsOn: [{ jobId: `<stage ${s} job id>` }] } : {}),
        containerOverrides: container(n > 1 ? command : [...command, '--index', '0'], options.memoryMiB ?? 4096),
      };
    }),
    commitJob: {
      jobName: jobName(plan, 'commit'),
      jobQueue: options.jobQueue,
      jobDefinition: definition,
      dependsOn: [{ jobId: `<stage ${plan.stages.length} job id>` }],
      containerOverrides: container(commitCommand(options), 2048),
    },
    taskCount: plan.tasks.length,
  };
}
