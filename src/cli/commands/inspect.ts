/** `heaplake inspect FILE`: what a file holds, without decoding its records. */
import { openAvroFile } from '../../columnar/read-avro.js';

export interface InspectReport {
  file: string;
  codec: string;
  metadataKeys: string[];
  schema: unknown;
  arrowSchema: string[];
  blocks: number;
  rows: number;
  fileBytes: number;
  headerBytes: number;
  compressedBlockBytes: number;
  decompressedBlockBytes: number;
}

export async function inspectFile(path: string): Promise<InspectReport> {
  const reader = await openAvroFile(path);
  for await (const block of reader.blocks()) void block;
  const { stats, header } = reader;
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));
  return {
    file: path,
    codec: header.codec,
    metadataKeys: [...header.metadata.keys()],
    schema: JSON.parse(header.schemaJson) as unknown,
    arrowSchema: reader.schema.fields.map((f) => `${f.name}: ${String(f.type)}${f.nullable ? '' : ' not null'}`),
    blocks: stats.blocks,
    rows: stats.records,
    fileBytes: size,
    headerBytes: header.byteLength,
    compressedBlockBytes: stats.compressedBytes,
    decompressedBlockBytes: stats.decompressedBytes,
  };
}

export async function inspectCommand(path: string, options: { json: boolean }): Promise<void> {
  const r = await inspectFile(path);
  if (options.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  const ratio = r.compressedBlockBytes > 0 ? (r.decompressedBlockBytes / r.compressedBlockBytes).toFixed(2) : '-';
  const lines = [
    `file:          ${r.file}`,
    `codec:         ${r.codec}`,
    `rows:          ${r.rows}`,
    `blocks:        ${r.blocks}`,
    `size:          ${r.fileBytes} bytes (header ${r.headerBytes}, block data ${r.compressedBlockBytes} → ${r.decompressedBlockBytes} decompressed, ×${ratio})`,
    `metadata keys: ${r.metadataKeys.join(', ')}`,
    `columns (Arrow):`,
    ...r.arrowSchema.map((c) => `  ${c}`),
    `writer schema:`,
    JSON.stringify(r.schema, null, 2)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
