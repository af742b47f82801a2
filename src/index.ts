/**
 * heaplake as a library. The data flow, in order: avro/ (container framing, codecs, schema)
 * → columnar/ (Avro → Arrow RecordBatches, the hot path) → sink/ (Arrow → Parquet).
 */
export { openAvro, openAvroFile, readAvroBatches } from './columnar/read-avro.js';
export type { AvroReader, AvroReadOptions, AvroFileStats, ByteChunks, DecompressedBlock } from './columnar/read-avro.js';
export { RecordDecoder, compileWriterSchema } from './columnar/record-decoder.js';
export { planColumns } from './columnar/arrow-mapping.js';
export type { ColumnPlan, RootPlan } from './columnar/arrow-mapping.js';
export { rowsAsJson } from './columnar/json-rows.js';
export { BlockReader } from './avro/block-reader.js';
export type { RawBlock, ContainerEvent, BlockReaderOptions } from './avro/block-reader.js';
export type { AvroHeader } from './avro/header.js';
export { parseSchema } from './avro/schema.js';
export type { AvroSchema, AvroField } from './avro/schema.js';
export { getDecompressor, CODECS } from './avro/codecs.js';
export { writeParquetFile, encodeParquetStream, checkParquetCompatible } from './sink/parquet.js';
export type { ParquetWriteOptions } from './sink/parquet.js';
export { convertFiles } from './convert-files.js';
export type { ConvertFilesOptions, ConvertFilesResult } from './convert-files.js';
export { HeaplakeError, AvroFormatError, AvroSchemaError, UnsupportedError, UsageError, SinkError } from './errors.js';
export type { ErrorCode, ErrorContext } from './errors.js';
export { DEFAULT_LIMITS, DEFAULT_BATCH, PARQUET_COMPRESSIONS, DEFAULT_PARQUET_COMPRESSION } from './defaults.js';
export type { ReadLimits, BatchBounds, ParquetCompression } from './defaults.js';
export { convert, planFile } from './convert.js';
export type { ConvertOptions, RunReport } from './convert.js';
export { parsePlan, encodePlan } from './protocol/plan-file.js';
export type { PlanFile, PlanTask } from './protocol/plan-file.js';
export { runTask, taskAt, readReceipts } from './protocol/run-task.js';
export type { Receipt } from './protocol/run-task.js';
export { commitPlan } from './protocol/commit-plan.js';
export { readPlan, writePlan } from './protocol/plan-io.js';
export { verifyLake } from './commit/verify.js';
export { readExport } from './read-export.js';
export type { ReadExportOptions, ExportTableBatches } from './read-export.js';
export type { TableStats } from './table-task.js';
export type { Source, SourceObject } from './source/source.js';
export { localSource } from './source/local-source.js';
export type { Target } from './sink/target.js';
export { localTarget } from './sink/local-target.js';
export type { LakeState, TableState, LakeColumn, LakeFile } from './commit/state.js';
export { readState } from './commit/state.js';
export { ManifestError } from './errors.js';
