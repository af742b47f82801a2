/**
 * Several Parquet files of one schema written a column at a time: each column of every file is
 * encoded and compressed as soon as it is given, and only the compressed chunks are held until
 * the files are assembled. The bytes are those heaplake's own writer makes of the same rows
 * (parquet-writer.ts; the same row groups, dictionary choices and footer).
 *
 * Why: a reduce task regroups its new rows by partition a column at a time (table-task.ts).
 * Written row group by row group, every column of every partition had to be regrouped first,
 * so the task held a second copy of its bucket's rows, the run's largest allocation: ~93 MB
 * at 10M rows, and a full bucket of the 10M-row run held more than the 1M-row run's partly
 * filled ones. Column at a time, a task holds one column's regrouped rows and the compressed
 * output (ArrayBuffers while writing, 10M rows: 82-87 against 149-152 MiB,
 * bench/results/memory-2026-12-07b.md).
 */
import type { Data, Schema } from 'apache-arrow';
import { isNearlyUnique } from './dictionary-choice.js';
import { assembleParquet, encodeColumnChunk, type EncodedChunk, type NativeWriteSettings } from './parquet-writer.js';

export interface ColumnFiles {
  /**
   * Column `c` of every file (`data[f]` holds exactly file f's rows, in the lake's type). Columns
   * come in schema order, each once.
   */
  add(c: number, data: readonly Data[]): void;
  /** File f's bytes, in pieces, once every column was added; its chunks are let go. */
  take(f: number): Uint8Array[];
}

/**
 * Files of `rows[f]` rows each. `sampleRows`: the rows the dictionary choice samples, as the
 * row-by-row path's first batch (writeParquet's callers decide from their first batch).
 */
export function columnFiles(schema: Schema, rows: readonly number[], settings: Omit<NativeWriteSettings, 'plainColumns'>, sampleRows: number): ColumnFiles {
  const { layouts, rowGroupRows } = settings;
  // chunks[f][g][c]; a file's row groups are rowGroupRows rows, the last one the rest
  const chunks: (EncodedChunk[][] | undefined)[] = rows.map((n) => Array.from({ length: Math.ceil(n / rowGroupRows) }, () => []));
  let next = 0;
  return {
    add(c, data) {
      if (c !== next || c >= layouts.length) throw new Error(`column ${c} given, column ${next} of ${layouts.length} expected`);
      next++;
      const layout = layouts[c]!;
      rows.forEach((n, f) => {
        const d = data[f]!;
        if (d.length !== n) throw new Error(`column "${layout.name}" of file ${f} has ${d.length} rows, the file ${n}`);
        const groups = chunks[f]!;
        let wantDictionary = !isNearlyUnique(d.slice(0, Math.min(sampleRows, n)));
        groups.forEach((chunksOfGroup, g) => {
          const from = g * rowGroupRows;
          const chunk = encodeColumnChunk(layout, [{ data: d, from, to: Math.min(n, from + rowGroupRows) }], wantDictionary, settings);
          // a dictionary that overflowed once: the file's later row groups go PLAIN at once
          if (chunk.dictionaryFailed) wantDictionary = false;
          chunksOfGroup.push(chunk);
        });
      });
    },
    take(f) {
      const groups = chunks[f];
      if (!groups || next !== layouts.length) throw new Error(`file ${f} is not complete (${next} of ${layouts.length} columns) or was taken`);
      chunks[f] = undefined;
      return assembleParquet(
        schema,
        groups,
        groups.map((_, g) => Math.min(rowGroupRows, rows[f]! - g * rowGroupRows)),
        settings,
      );
    },
  };
}
