/** A Heap export in a local folder with the bucket's layout (manifests/, sync_<id>/…). */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { asHeaplakeError } from '../errors.js';
import { isSafeKey, type Source, type SourceObject } from './source.js';

export function localSource(root: string): Source {
  const base = resolve(root);
  const pathOf = (key: string): string => {
    if (!isSafeKey(key)) throw asHeaplakeError(new Error(`unsafe key ${JSON.stringify(key)}`), 'SOURCE_IO', { file: key });
    return join(base, ...key.split('/'));
  };
  return {
    description: base,
    bucket: undefined,
    async *list(prefix: string): AsyncIterable<SourceObject> {
      // walk only the folder the prefix names, then filter by the rest of the prefix
      const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const start = dirPart ? join(base, ...dirPart.split('/')) : base;
      const walk = async function* (dir: string, rel: string): AsyncIterable<SourceObject> {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw asHeaplakeError(err, 'SOURCE_IO', { file: dir });
        }
        for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
          const key = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) yield* walk(join(dir, e.name), key);
          else if (e.isFile() && key.startsWith(prefix)) yield { key, size: (await stat(join(dir, e.name))).size };
        }
      };
      yield* walk(start, dirPart);
    },
    async size(key: string): Promise<number | undefined> {
      try {
        const st = await stat(pathOf(key));
        return st.isFile() ? st.size : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw asHeaplakeError(err, 'SOURCE_IO', { file: key });
      }
    },
    read(key: string): AsyncIterable<Uint8Array> {
      return createReadStream(pathOf(key), { highWaterMark: 1024 * 1024 });
    },
    async readAll(key: string): Promise<Uint8Array> {
      try {
        return await readFile(pathOf(key));
      } catch (err) {
        throw asHeaplakeError(err, 'SOURCE_IO', { file: key });
      }
    },
  };
}
