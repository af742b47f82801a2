/** `heaplake convert-file IN.avro [IN2.avro …] --out OUT.parquet` */
import { convertFiles } from '../../convert-files.js';
import type { ParquetCompression } from '../../defaults.js';

export async function convertFileCommand(inputs: string[], out: string, options: { compression: ParquetCompression; quiet: boolean }): Promise<void> {
  const started = performance.now();
  const result = await convertFiles(inputs, out, { compression: options.compression });
  if (options.quiet) return;
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `wrote ${out}: ${result.rows} rows from ${inputs.length} file(s), ${result.outputBytes} bytes (${options.compression}) in ${seconds.toFixed(2)} s\n`,
  );
}
