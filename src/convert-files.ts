/**
 * Avro file(s) with one schema → one Parquet file, streamed batch by batch. The library
 * form of `heaplake convert-file`.
 */
import { stat } from 'node:fs/promises';
import type { RecordBatch, Schema } from 'apache-arrow';
import { UsageError, AvroSchemaError } from './errors.js';
import type { BatchBounds, ReadLimits } from './defaults.js';
import { openAvroFile, type AvroReader } from './columnar/read-avro.js';
import { writeParquetFile, type ParquetWriteOptions } from './sink/parquet.js';

export interface ConvertFilesOptions extends ParquetWriteOptions {
  limits?: Partial<ReadLimits>;
  batch?: Partial<BatchBounds>;
}

export interface ConvertFilesResult {
  rows: number;
  blocks: number;
  inputBytes: number;
  outputBytes: number;
}

/** A comparable description of an Arrow schema (names, types, nullability). */
export function schemaSignature(schema: Schema): string {
  return schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable}`).join('|');
}

export async function convertFiles(inputs: readonly string[], out: string, options: ConvertFilesOptions = {}): Promise<ConvertFilesResult> {
  if (inputs.length === 0) throw new UsageError('USAGE', 'convert-file needs at least one input file');
  const readOptions = { ...(options.limits ? { limits: options.limits } : {}), ...(options.batch ? { batch: options.batch } : {}) };
  const first = await openAvroFile(inputs[0]!, readOptions);
  const signature = schemaSignature(first.schema);
  const result: ConvertFilesResult = { rows: 0, blocks: 0, inputBytes: 0, outputBytes: 0 };

  async function* allBatches(): AsyncGenerator<RecordBatch> {
    for (let i = 0; i < inputs.length; i++) {
      const reader: AvroReader = i === 0 ? first : await openAvroFile(inputs[i]!, readOptions);
      if (schemaSignature(reader.schema) !== signature) {
        throw new AvroSchemaError('AVRO_SCHEMA', `schema differs from that of ${inputs[0]}: convert-file needs files with one schema`, { file: inputs[i]! });
      }
      yield* reader.batches();
      result.rows += reader.stats.records;
      result.blocks += reader.stats.blocks;
      result.inputBytes += (await stat(inputs[i]!)).size;
    }
  }

  await writeParquetFile(out, first.schema, allBatches(), options);
  result.outputBytes = (await stat(out)).size;
  return result;
}
