/**
 * Scheduler definitions for a plan, generated from the plan itself so the task count and the
 * commands always agree with it: a Kubernetes Indexed Job for the tasks plus a Job for the
 * commit, or AWS Batch inputs for an array job plus a dependent commit job. No cluster is
 * needed to check them: test/recipes.test.ts runs the very commands they contain, with the
 * index variables the schedulers set, and compares the lake with `convert`'s.
 */
import type { PlanFile } from './plan-file.js';

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

export function taskCommand(options: RecipeOptions): string[] {
  return ['run-task', '--plan', options.planUri, ...(options.extraArgs ?? [])];
}

export function commitCommand(options: RecipeOptions): string[] {
  return ['commit', '--plan', options.planUri, ...(options.extraArgs ?? [])];
}

const yamlList = (items: readonly string[]) => `[${items.map((a) => JSON.stringify(a)).join(', ')}]`;

/** Two Kubernetes Jobs as YAML: the Indexed Job of the tasks, then the commit (apply it once the first completes). */
export function kubernetesManifests(plan: PlanFile, options: KubernetesOptions): string {
  const n = plan.tasks.length;
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
  return [
    `# heaplake plan ${plan.id}: ${n} task(s) from ${plan.source} into ${plan.target}`,
    `# 1. kubectl apply -f this file's first document (the tasks; each pod gets JOB_COMPLETION_INDEX)`,
    `# 2. kubectl wait --for=condition=complete job/${jobName(plan, 'tasks')} --timeout=24h`,
    `# 3. kubectl apply -f the second document (the commit)`,
    `apiVersion: batch/v1`,
    `kind: Job`,
    `metadata:`,
    `  name: ${jobName(plan, 'tasks')}${ns}`,
    `  labels: { app: heaplake, heaplake-plan: ${plan.id} }`,
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
    pod(taskCommand(options), memory),
    `---`,
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
}

/**
 * AWS Batch inputs (for `aws batch … --cli-input-json`): a job definition, the array job of the
 * tasks (each container gets AWS_BATCH_JOB_ARRAY_INDEX), and the commit job, which depends on
 * the whole array (its `dependsOn` job id is the array job's, filled in at submission).
 */
export function batchJobs(plan: PlanFile, options: BatchOptions) {
  const n = plan.tasks.length;
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
    // an array job has 2 to 10,000 children: a plan of one task is a plain job given its index
    tasksJob: {
      jobName: jobName(plan, 'tasks'),
      jobQueue: options.jobQueue,
      jobDefinition: definition,
      ...(n > 1 ? { arrayProperties: { size: n } } : {}),
      containerOverrides: container(n > 1 ? taskCommand(options) : [...taskCommand(options), '--index', '0'], options.memoryMiB ?? 4096),
    },
    commitJob: {
      jobName: jobName(plan, 'commit'),
      jobQueue: options.jobQueue,
      jobDefinition: definition,
      dependsOn: [{ jobId: '<tasks job id>' }],
      containerOverrides: container(commitCommand(options), 2048),
    },
    taskCount: n,
  };
}
