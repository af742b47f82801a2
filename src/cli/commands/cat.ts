/** `heaplake cat FILE`: rows as JSON lines. */
import { openAvroFile } from '../../columnar/read-avro.js';
import { rowsAsJson } from '../../columnar/json-rows.js';

export async function catCommand(path: string, options: { limit?: number }): Promise<void> {
  const limit = options.limit ?? Infinity;
  const reader = await openAvroFile(path, { batch: { maxRows: Math.max(1, Math.min(65536, limit)) } });
  let printed = 0;
  for await (const batch of reader.batches()) {
    const lines: string[] = [];
    for (const line of rowsAsJson(batch)) {
      if (printed >= limit) break;
      lines.push(line);
      printed++;
    }
    if (lines.length > 0 && !process.stdout.write(lines.join('\n') + '\n')) {
      await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
    if (printed >= limit) break;
  }
}
