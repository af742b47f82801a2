/**
 * Writes fixtures/avro/ with avsc (an independent encoder), deterministically: the same
 * command always writes the same bytes. Run: `npm run fixtures`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAvro } from './avsc-writer.js';
import { PAGEVIEWS_SCHEMA, USERS_SCHEMA, pageviews, users } from './heap-like.js';

const out = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'fixtures', 'avro');
mkdirSync(out, { recursive: true });

const WEATHER = {
  type: 'record',
  name: 'Weather',
  namespace: 'test',
  fields: [
    { name: 'station', type: 'string' },
    { name: 'time', type: 'long' },
    { name: 'temp', type: 'int' },
  ],
};
const weather = [
  { station: '011990-99999', time: -619524000000n, temp: 0 },
  { station: '011990-99999', time: -619506000000n, temp: 22 },
  { station: '011990-99999', time: -619484400000n, temp: -11 },
  { station: '012650-99999', time: -655531200000n, temp: 111 },
  { station: '012650-99999', time: -655509600000n, temp: 78 },
];

const files: [string, Promise<Buffer>][] = [
  ['pageviews.snappy.avro', writeAvro(PAGEVIEWS_SCHEMA, pageviews(2000, 1, { duplicateEvery: 50 }), { codec: 'snappy', blockSize: 64 * 1024 })],
  ['users.deflate.avro', writeAvro(USERS_SCHEMA, users(300, 2), { codec: 'deflate', blockSize: 8 * 1024 })],
  ['weather.xz.avro', writeAvro(WEATHER, weather, { codec: 'xz' })],
];
for (const [name, bytes] of files) {
  writeFileSync(join(out, name), await bytes);
  console.log(`wrote fixtures/avro/${name}`);
}
