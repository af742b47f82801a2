/**
 * The decode benchmarks' input: Heap-like pageview rows in one Avro file per codec, 256 KiB
 * blocks, generated once (deterministic) and cached in bench/data/ (git-ignored).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAvro } from '../scripts/avsc-writer.js';
import { PAGEVIEWS_SCHEMA, pageviews } from '../scripts/heap-like.js';

/** The file's path, written first if it is not there yet. */
export async function decodeDataset(rows: number, codec: string): Promise<string> {
  const dataDir = join(import.meta.dirname, 'data');
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, `pageviews-${rows}.${codec}.avro`);
  if (!existsSync(path)) {
    process.stderr.write(`generating ${path}\n`);
    writeFileSync(path, await writeAvro(PAGEVIEWS_SCHEMA, pageviews(rows, 42, { duplicateEvery: 100 }), { codec, blockSize: 256 * 1024 }));
  }
  return path;
}
