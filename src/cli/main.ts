/**
 * The heaplake command line: parses arguments (yargs), calls the library, prints, and maps
 * error families to exit codes. It is the only place that prints or exits.
 *
 * Exit codes: 0 success · 1 internal error · 2 usage · 3 bad input data · 4 output failure.
 */
import yargs from 'yargs';
import { HeaplakeError, type ErrorCode } from '../errors.js';
import { PARQUET_COMPRESSIONS, DEFAULT_PARQUET_COMPRESSION, type ParquetCompression } from '../defaults.js';
import { inspectCommand } from './commands/inspect.js';
import { catCommand } from './commands/cat.js';
import { convertFileCommand } from './commands/convert-file.js';

export const EXIT = { ok: 0, internal: 1, usage: 2, badInput: 3, output: 4 } as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof HeaplakeError)) return EXIT.internal;
  const code: ErrorCode = err.code;
  if (code === 'USAGE') return EXIT.usage;
  if (code === 'IO' || code === 'PARQUET') return EXIT.output;
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
