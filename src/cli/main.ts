/**
 * The heaplake command line: parses arguments (yargs), calls the library, prints, and maps
 * error families to exit codes. It is the only place that prints or exits.
 *
 * Exit codes: 0 success · 1 internal error · 2 usage · 3 bad input data · 4 output failure.
 */
import yargs, { type Argv } from 'yargs';
import { availableParallelism } from 'node:os';
import { HeaplakeError, UsageError, type ErrorCode } from '../errors.js';
import { PARQUET_COMPRESSIONS, DEFAULT_PARQUET_COMPRESSION, DEFAULT_MAX_TASK_BYTES, type ParquetCompression } from '../defaults.js';
import { inspectCommand } from './commands/inspect.js';
import { catCommand } from './commands/cat.js';
import { convertFileCommand } from './commands/convert-file.js';
import { convertCommand, planCommand } from './commands/convert.js';
import { commitCommand, recipeCommand, runTaskCommand } from './commands/protocol.js';
import { ENGINES, identityViews, type Engine } from '../identity/views.js';
import { readState } from '../commit/state.js';
import { verifyError, verifyLake } from '../commit/verify.js';
import { resolveTarget } from '../convert.js';

export const EXIT = { ok: 0, internal: 1, usage: 2, badInput: 3, output: 4 } as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof HeaplakeError)) return EXIT.internal;
  const code: ErrorCode = err.code;
  if (code === 'USAGE') return EXIT.usage;
  if (code === 'IO' || code === 'PARQUET' || code === 'STATE' || code === 'CONCURRENT_COMMIT') return EXIT.output;
  return EXIT.badInput;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  let usageFailed = false;
  const run = (fn: () => Promise<void>) => async () => {
    // with exitProcess(false), yargs still calls the handler after reporting a usage error
    if (usageFailed) return;
    try {
      await fn();
    } catch (err) {
      exitCode = exitCodeFor(err);
      const label = err instanceof HeaplakeError ? `error [${err.code}]` : 'internal error';
      process.stderr.write(`heaplake: ${label}: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!(err instanceof HeaplakeError) && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    }
  };
  const parser = yargs(argv)
    .scriptName('heaplake')
    .usage('$0 <command> [options]\n\nTurn Heap Connect S3 exports (Avro) into Parquet, through Apache Arrow.')
    .command(
      'convert',
      'Convert a Heap Connect S3 export into a partitioned Parquet lake (only what is new since the last run)',
      (y) =>
        exportOptions(y)
          .option('workers', { type: 'number', default: availableParallelism(), describe: 'processes running tasks at once, at most: this one and N - 1 worker processes (default: the number of cores)' })
          .option('worker-min-mb', { type: 'number', default: 16, describe: 'tasks with less input (MB) run in the main process; with fewer than two larger ones, no workers start' })
          .option('spill-dir', { type: 'string', describe: "a local folder for split tables' spills (default: the lake's staging area; for an s3:// lake, the system's temporary folder)" })
          .option('report', { type: 'string', describe: 'write the run report as JSON to this file' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'plan and check, write nothing' })
          .option('break-lock', { type: 'boolean', default: false, describe: 'take the commit lock even if a run killed while committing left it (stores without conditional writes)' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress and no summary' }),
      async (args) =>
        run(() =>
          convertCommand({
            ...(args['break-lock'] ? { lock: { breakLock: true } } : {}),
            ...exportArgs(args),
            workers: positive(args.workers, '--workers'),
            workerMinBytes: Math.max(0, args['worker-min-mb']) * 1024 * 1024,
            ...(args['spill-dir'] === undefined ? {} : { spillDir: args['spill-dir'] }),
            dryRun: args['dry-run'],
            quiet: args.quiet,
            ...(args.report === undefined ? {} : { report: args.report }),
          }),
        )(),
    )
    .command(
      'plan',
      'Plan a run: show what "convert" would do, or (--out) write the plan file that run-task and commit carry out',
      (y) =>
        exportOptions(y)
          .option('out', { type: 'string', describe: 'write the plan file here (a path or s3://bucket/key)' })
          .option('json', { type: 'boolean', default: false, describe: 'print the plan file' }),
      async (args) => run(() => planCommand({ ...exportArgs(args), json: args.json, ...(args.out === undefined ? {} : { out: args.out }) }))(),
    )
    .command(
      'run-task',
      'Do one task of a plan (the index from --index, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)',
      (y) =>
        s3Options(
          y
            .option('plan', { type: 'string', demandOption: true, describe: 'the plan file (a path or s3://bucket/key)' })
            .option('index', { type: 'number', describe: 'the task index (default: $JOB_COMPLETION_INDEX or $AWS_BATCH_JOB_ARRAY_INDEX)' })
            .option('stage', { type: 'number', describe: "with a split table: the index counts this stage's tasks only (one scheduler job per stage)" })
            .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines' }),
        ),
      async (args) =>
        run(() =>
          runTaskCommand({
            plan: args.plan,
            index: args.index ?? process.env['JOB_COMPLETION_INDEX'] ?? process.env['AWS_BATCH_JOB_ARRAY_INDEX'],
            ...(args.stage === undefined ? {} : { stage: args.stage }),
            s3: s3Args(args),
            quiet: args.quiet,
          }),
        )(),
    )
    .command(
      'commit',
      'Publish a plan whose tasks have all run: check every receipt, commit once, clean staging',
      (y) =>
        s3Options(
          y
            .option('plan', { type: 'string', demandOption: true, describe: 'the plan file (a path or s3://bucket/key)' })
            .option('break-lock', { type: 'boolean', default: false, describe: 'take the commit lock even if a run killed while committing left it' })
            .option('quiet', { type: 'boolean', default: false, describe: 'no summary' }),
        ),
      async (args) => run(() => commitCommand({ plan: args.plan, s3: s3Args(args), quiet: args.quiet, ...(args['break-lock'] ? { lock: { breakLock: true } } : {}) }))(),
    )
    .command(
      'recipe <scheduler>',
      'Print the scheduler definitions for a plan: a Kubernetes Indexed Job and commit Job (YAML), or AWS Batch job inputs (JSON)',
      (y) =>
        s3Options(
          y
            .positional('scheduler', { choices: ['kubernetes', 'aws-batch'] as const, demandOption: true, describe: 'the engine that runs the tasks' })
            .option('plan', { type: 'string', demandOption: true, describe: 'the plan file, where the tasks will read it (s3://bucket/key)' })
            .option('image', { type: 'string', demandOption: true, describe: 'the heaplake container image (deploy/Dockerfile)' })
            .option('parallelism', { type: 'number', describe: 'tasks at once (default: all)' })
            .option('memory', { type: 'number', describe: 'MiB per task container (default 4096)' })
            .option('namespace', { type: 'string', describe: 'kubernetes: the namespace' })
            .option('service-account', { type: 'string', describe: 'kubernetes: a service account with an IAM role (IRSA)' })
            .option('secret', { type: 'string', describe: 'kubernetes: a secret holding AWS credentials as environment variables' })
            .option('job-queue', { type: 'string', describe: 'aws-batch: the job queue' })
            .option('job-role-arn', { type: 'string', describe: 'aws-batch: the role the containers run as' }),
        ),
      async (args) => run(() => recipeCommand({ ...args, scheduler: args.scheduler as 'kubernetes' | 'aws-batch', s3: s3Args(args) }))(),
    )
    .command(
      'verify',
      'Check that every file the lake state lists is there, with its recorded size (--deep: and its rows)',
      (y) =>
        y
          .option('target', { type: 'string', demandOption: true, describe: 'the lake (folder or s3:// URI)' })
          .option('deep', { type: 'boolean', default: false, describe: 'also read every file and count its rows' })
          .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
          .option('endpoint', { type: 'string', describe: 'an S3-compatible endpoint, for an s3:// target' }),
      async (args) =>
        run(async () => {
          const report = await verifyLake(resolveTarget(args.target, args.endpoint ? { endpoint: args.endpoint } : undefined), { deep: args.deep });
          if (args.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          else {
            process.stdout.write(`${report.target}: ${report.tables} table(s), ${report.files} file(s), ${report.rows.toLocaleString('en-US')} rows, committed ${report.committedAt ?? 'never'}\n`);
            for (const p of report.problems) process.stdout.write(`  problem: ${p.path}: ${p.problem}\n`);
            if (report.unlisted.length > 0) process.stdout.write(`  ${report.unlisted.length} unlisted file(s), invisible to readers; the next commit removes them\n`);
            if (report.problems.length === 0) process.stdout.write(`ok${args.deep ? ' (every file read)' : ''}\n`);
          }
          const err = verifyError(report);
          if (err) throw err;
        })(),
    )
    .command(
      'sql',
      'Print CREATE VIEW statements that add resolved_user_id to every event table',
      (y) =>
        y
          .option('target', { type: 'string', demandOption: true, describe: 'the lake (folder or s3:// URI)' })
          .option('engine', { choices: ENGINES, default: 'duckdb' as Engine, describe: 'the SQL dialect' })
          .option('schema', { type: 'string', describe: 'athena/trino: the database or schema holding the lake tables' })
          .option('location', { type: 'string', describe: 'duckdb: where the lake is read from (default: --target)' })
          .option('endpoint', { type: 'string', describe: 'an S3-compatible endpoint, for an s3:// target' }),
      async (args) =>
        run(async () => {
          const state = await readState(resolveTarget(args.target, args.endpoint ? { endpoint: args.endpoint } : undefined));
          process.stdout.write(identityViews(state, args.engine as Engine, { location: args.location ?? args.target, ...(args.schema ? { schema: args.schema } : {}) }));
        })(),
    )
    .command(
      'inspect <file>',
      'Show an Avro file: codec, schema, metadata keys, blocks, rows and sizes',
      (y) => y.positional('file', { type: 'string', demandOption: true, describe: 'Avro object container file' }).option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
      async (args) => run(() => inspectCommand(args.file, { json: args.json }))(),
    )
    .command(
      'cat <file>',
      'Print the rows of an Avro file as JSON lines (64-bit integers exact)',
      (y) =>
        y
          .positional('file', { type: 'string', demandOption: true, describe: 'Avro object container file' })
          .option('limit', { type: 'number', describe: 'print at most N rows' }),
      async (args) => run(() => catCommand(args.file, args.limit === undefined ? {} : { limit: args.limit }))(),
    )
    .command(
      'convert-file <inputs..>',
      'Convert Avro file(s) sharing one schema into one Parquet file',
      (y) =>
        y
          .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'Avro files' })
          .option('out', { type: 'string', demandOption: true, describe: 'output Parquet file' })
          .option('compression', { choices: PARQUET_COMPRESSIONS, default: DEFAULT_PARQUET_COMPRESSION, describe: 'Parquet compression codec' })
          .option('quiet', { type: 'boolean', default: false, describe: 'print nothing on success' }),
      async (args) =>
        run(() =>
          convertFileCommand(args.inputs as string[], args.out, {
            compression: args.compression as ParquetCompression,
            quiet: args.quiet,
          }),
        )(),
    )
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      usageFailed = true;
      exitCode = EXIT.usage;
      process.stderr.write(`heaplake: ${msg ?? err?.message ?? 'invalid arguments'}\nRun "heaplake --help" for usage.\n`);
    });
  await parser.parseAsync();
  return exitCode;
}

/** Options shared by convert and plan. */
function exportOptions<T>(y: Argv<T>) {
  return s3Options(
    y
      .option('source', { type: 'string', demandOption: true, describe: 'the Heap export: a folder with manifests/ and sync_<id>/, or s3://bucket[/prefix]' })
      .option('target', { type: 'string', demandOption: true, describe: 'the lake: a folder or s3://bucket[/prefix]' })
      .option('tables', { type: 'string', array: true, describe: 'only these tables (names or globs)' })
      .option('exclude-tables', { type: 'string', array: true, describe: 'leave out these tables (names or globs)' })
      .option('start-date', { type: 'string', describe: 'YYYY-MM-DD: leave out event rows whose time is earlier' })
      .option('include-event-metadata', { type: 'boolean', default: false, describe: 'pass _event_metadata through (skipped by default)' })
      .option('skip-late-dumps', { type: 'boolean', default: false, describe: 'leave out dumps that appear after a later dump was applied (by default they stop the run)' })
      .option('compression', { choices: PARQUET_COMPRESSIONS, default: DEFAULT_PARQUET_COMPRESSION, describe: 'Parquet compression codec' })
      .option('strict', { type: 'boolean', default: false, describe: 'an unparseable "time" value is an error instead of a null' })
      .option('resolve-identities', { type: 'boolean', default: false, describe: 'also write user_identity and users_resolved (from user_migrations)' })
      .option('max-task-mb', {
        type: 'number',
        default: DEFAULT_MAX_TASK_BYTES / (1024 * 1024),
        describe: 'most Avro input per task: a bigger table is split by key into buckets (map and reduce tasks), so memory stays bounded',
      }),
  );
}

/** S3 settings, for s3:// sources, targets and plans. */
function s3Options<T>(y: Argv<T>) {
  return y
    .option('region', { type: 'string', describe: 'AWS region of the buckets' })
    .option('endpoint', { type: 'string', describe: 'an S3-compatible endpoint (MinIO, R2, a local server): path-style addressing' })
    .option('profile', { type: 'string', describe: 'the AWS shared-config profile to use' })
    .option('role-arn', { type: 'string', describe: 'a role to assume for reading the Heap bucket' })
    .option('account-id', { type: 'string', describe: 'with --role-name: the account of the role to assume' })
    .option('role-name', { type: 'string', describe: 'with --account-id: the role to assume' })
    .option('external-id', { type: 'string', describe: 'the external id the role requires' })
    .group(['region', 'endpoint', 'profile', 'role-arn', 'account-id', 'role-name', 'external-id'], 'S3 (for s3:// sources, targets and plans):');
}

interface S3Args {
  region?: string | undefined;
  endpoint?: string | undefined;
  profile?: string | undefined;
  'role-arn'?: string | undefined;
  'account-id'?: string | undefined;
  'role-name'?: string | undefined;
  'external-id'?: string | undefined;
}

interface ExportArgs extends S3Args {
  source: string;
  target: string;
  tables?: string[] | undefined;
  'exclude-tables'?: string[] | undefined;
  'start-date'?: string | undefined;
  'include-event-metadata': boolean;
  'skip-late-dumps': boolean;
  compression: string;
  strict: boolean;
  'resolve-identities': boolean;
  'max-task-mb': number;
}

function s3Args(args: S3Args): Record<string, string> | undefined {
  const s3: Record<string, string> = {};
  for (const [flag, key] of [['region', 'region'], ['endpoint', 'endpoint'], ['profile', 'profile'], ['role-arn', 'roleArn'], ['account-id', 'accountId'], ['role-name', 'roleName'], ['external-id', 'externalId']] as const) {
    const v = args[flag];
    if (v !== undefined) s3[key] = v;
  }
  return Object.keys(s3).length > 0 ? s3 : undefined;
}

function exportArgs(args: ExportArgs) {
  const s3 = s3Args(args);
  return {
    source: args.source,
    target: args.target,
    includeEventMetadata: args['include-event-metadata'],
    skipLateDumps: args['skip-late-dumps'],
    compression: args.compression as ParquetCompression,
    strict: args.strict,
    resolveIdentities: args['resolve-identities'],
    maxTaskBytes: Math.round(positiveNumber(args['max-task-mb'], '--max-task-mb') * 1024 * 1024),
    ...(s3 ? { s3 } : {}),
    ...(args.tables ? { tables: args.tables.flatMap((t) => t.split(',')) } : {}),
    ...(args['exclude-tables'] ? { excludeTables: args['exclude-tables'].flatMap((t) => t.split(',')) } : {}),
    ...(args['start-date'] === undefined ? {} : { startDate: args['start-date'] }),
  };
}

function positiveNumber(n: number, flag: string): number {
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError('USAGE', `${flag} must be a number above 0, got ${n}`);
  return n;
}

function positive(n: number, flag: string): number {
  if (!Number.isInteger(n) || n < 1) throw new UsageError('USAGE', `${flag} must be a whole number of at least 1, got ${n}`);
  return n;
}
