/**
 * The data-lake feeding path: read a Heap export as the lake would hold it — per table, the
 * merged schema and the de-duplicated rows as Arrow RecordBatches — without writing Parquet.
 * It runs the same table tasks as `convert`, against an in-memory sink.
 *
 *   for await (const t of readExport({ source: 'export/' })) {
 *     for (const batch of t.batches) feed(t.table, batch);
 *   }
 */
import type { RecordBatch, Schema } from 'apache-arrow';
import { DEFAULT_PARQUET_COMPRESSION, type BatchBounds, type ReadLimits } from './defaults.js';
import type { Source } from './source/source.js';
import type { Target } from './sink/target.js';
import { planRun, type PlanOptions } from './manifest/plan.js';
import { EMPTY_STATE } from './commit/state.js';
import { runTableTask, type TableStats } from './table-task.js';
import { resolveSource } from './convert.js';
import { lakeSchema } from './schema/merge.js';

export interface ReadExportOptions extends PlanOptions {
  source: string | Source;
  strict?: boolean;
  limits?: Partial<ReadLimits>;
  batch?: Partial<BatchBounds>;
}

export interface ExportTableBatches {
  readonly table: string;
  readonly schema: Schema;
  /** The table's rows, partition by partition (`dt` order for event tables). */
  readonly batches: readonly RecordBatch[];
  readonly stats: TableStats;
}

/** Per table of the export (all dumps, as if into an empty lake), its merged, de-duplicated rows. */
export async function* readExport(options: ReadExportOptions): AsyncGenerator<ExportTableBatches> {
  const source = resolveSource(options.source);
  const plan = await planRun(source, EMPTY_STATE, options);
  for (const tablePlan of plan.tables) {
    const captured: { schema?: Schema; batches: RecordBatch[] } = { batches: [] };
    const result = await runTableTask(tablePlan, {
      source,
      target: captureTarget(captured),
      state: EMPTY_STATE,
      runId: 'read',
      fileTag: 'read',
      startMicros: plan.startMicros,
      strict: options.strict ?? false,
      compression: DEFAULT_PARQUET_COMPRESSION,
      maxRowsPerFile: Number.MAX_SAFE_INTEGER,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.batch ? { batch: options.batch } : {}),
    });
    const schema = captured.schema ?? lakeSchema(result.state.columns);
    yield { table: tablePlan.table, schema, batches: captured.batches, stats: result.stats };
  }
}

/** A sink that keeps the batches a task would write as Parquet. */
function captureTarget(into: { schema?: Schema; batches: RecordBatch[] }): Target {
  const unsupported = () => Promise.reject(new Error('not available while reading an export'));
  return {
    description: '(memory)',
    readText: () => Promise.resolve(undefined),
    readVersioned: () => Promise.resolve(undefined),
    readBytes: unsupported,
    size: () => Promise.resolve(undefined),
    writeAtomic: unsupported,
    writeIfUnchanged: unsupported,
    hasCompareAndSwap: () => Promise.resolve(false),
    async writeParquet(_path, schema, batches) {
      into.schema = schema;
      for await (const b of batches) into.batches.push(b);
      return { bytes: 0, sha256: '' };
    },
    list: () => Promise.resolve([]),
    move: unsupported,
    remove: unsupported,
    removeTree: unsupported,
  };
}
