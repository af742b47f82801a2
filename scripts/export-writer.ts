/**
 * Writes a Heap Connect S3 export into a folder: Avro files (through avsc) and
 * `manifests/sync_<id>.json`. Used by the fixture script and by tests that build exports.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeAvro } from './avsc-writer.js';

export interface ExportTable {
  name: string;
  incremental: boolean;
  files: { schema: unknown; rows: unknown[]; codec?: string }[];
  /** Override the manifest's columns (default: the first file's field names). */
  columns?: string[];
}

export interface ExportDump {
  /** Decimal digits: ids are 64-bit. */
  id: string;
  tables: ExportTable[];
  /** Extra top-level manifest keys. */
  extra?: Record<string, unknown>;
}

export const FIXTURE_BUCKET = 'heap-rs3-acme';

export async function writeDump(root: string, dump: ExportDump, bucket = FIXTURE_BUCKET): Promise<void> {
  const tables: unknown[] = [];
  for (const t of dump.tables) {
    const files: string[] = [];
    for (let i = 0; i < t.files.length; i++) {
      const f = t.files[i]!;
      const key = `sync_${dump.id}/${t.name}/part-${String(i).padStart(5, '0')}-a1b2c3d4-0000-4000-8000-${dump.id.padStart(12, '0').slice(-12)}-c000.avro`;
      const bytes = await writeAvro(f.schema, f.rows, { codec: f.codec ?? 'snappy', blockSize: 4096, syncMarker: Buffer.from(`sync-${dump.id}`.padEnd(16, '-').slice(0, 16)) });
      mkdirSync(dirname(join(root, key)), { recursive: true });
      writeFileSync(join(root, key), bytes);
      files.push(`s3://${bucket}/${key}`);
    }
    const columns = t.columns ?? (t.files[0]?.schema as { fields?: { name: string }[] } | undefined)?.fields?.map((f) => f.name) ?? [];
    tables.push({ name: t.name, columns, files, incremental: t.incremental });
  }
  const manifest = { dump_id: 0, tables, property_definitions: `s3://${bucket}/sync_${dump.id}/property_definitions.json`, ...dump.extra };
  mkdirSync(join(root, 'manifests'), { recursive: true });
  mkdirSync(join(root, `sync_${dump.id}`), { recursive: true });
  writeFileSync(join(root, `sync_${dump.id}`, 'property_definitions.json'), '{}\n');
  // the digits themselves, never a rounded double
  const text = JSON.stringify(manifest, null, 2).replace('"dump_id": 0', `"dump_id": ${dump.id}`);
  writeFileSync(join(root, 'manifests', `sync_${dump.id}.json`), text + '\n');
}
