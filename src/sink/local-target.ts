/** A lake in a local folder. */
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SinkError } from '../errors.js';
import { sha256Hex } from '../bytes.js';
import { isSafeKey } from '../source/source.js';
import { writeParquetFile } from './parquet.js';
import type { Target } from './target.js';

export function localTarget(root: string): Target {
  const base = resolve(root);
  const pathOf = (path: string): string => {
    if (!isSafeKey(path)) throw new SinkError('IO', `unsafe lake path ${JSON.stringify(path)}`, { file: path });
    return join(base, ...path.split('/'));
  };
  const io = async <T>(path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw new SinkError('IO', `${(err as Error).message}`, { file: path }, { cause: err });
    }
  };
  return {
    description: base,
    async readText(path) {
      try {
        return await readFile(pathOf(path), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new SinkError('IO', (err as Error).message, { file: path }, { cause: err });
      }
    },
    async readVersioned(path) {
      try {
        const bytes = await readFile(pathOf(path));
        return { text: bytes.toString('utf8'), version: versionOf(bytes) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new SinkError('IO', (err as Error).message, { file: path }, { cause: err });
      }
    },
    readBytes: (path) => io(path, () => readFile(pathOf(path))),
    openRead: (path) =>
      io(path, async () => {
        // synchronous reads: a reduce reads tens of KB at a time from spills just written (in the
        // page cache), and through libuv's pool each read cost more than it moved (82 files × 34
        // reads of 30 KB: 227-261 ms with fs/promises opening each time, 75-104 ms with the
        // handles kept, 22-23 ms with readSync; scratch benchmark, this VM)
        const fd = openSync(pathOf(path), 'r');
        try {
          const { size } = fstatSync(fd);
          return {
            size,
            read: (offset, length) =>
              io(path, async () => {
                // a buffer of its own, not a slice of Node's pool: column views need 8-byte alignment
                const bytes = new Uint8Array(length);
                for (let done = 0; done < length; ) {
                  const read = readSync(fd, bytes, done, length - done, offset + done);
                  if (read === 0) throw new Error(`${length - done} bytes short of ${offset + length} (the file is ${size} bytes)`);
                  done += read;
                }
                return bytes;
              }),
            close: async () => closeSync(fd),
          };
        } catch (err) {
          closeSync(fd);
          throw err;
        }
      }),
    size: (path) =>
      io(path, async () => {
        try {
          return (await stat(pathOf(path))).size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        }
      }),
    hasCompareAndSwap: () => Promise.resolve(true),
    writeAtomic: (path, bytes) => io(path, () => writeReplacing(pathOf(path), bytes)),
    writeIfUnchanged: (path, bytes, version) =>
      io(path, async () => {
        // compare-and-swap on one host: an exclusively created guard file serialises writers
        const full = pathOf(path);
        await mkdir(dirname(full), { recursive: true });
        const release = await exclusive(`${full}.guard`);
        try {
          let current: string | undefined;
          try {
            current = versionOf(await readFile(full));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
          if (current !== version) return false;
          await writeReplacing(full, bytes);
          return true;
        } finally {
          await release();
        }
      }),
    writeEncoded: (path, pieces) =>
      io(path, async () => {
        await writeReplacing(pathOf(path), pieces);
        return { bytes: pieces.reduce((n, p) => n + p.byteLength, 0), sha256: sha256Hex(pieces) };
      }),
    async writeParquet(path, schema, batches, options) {
      const full = pathOf(path);
      await io(path, () => mkdir(dirname(full), { recursive: true }));
      return writeParquetFile(full, schema, batches, options);
    },
    async list(prefix) {
      const out: string[] = [];
      const walk = async (dir: string, rel: string) => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw new SinkError('IO', (err as Error).message, { file: rel }, { cause: err });
        }
        for (const e of entries) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) await walk(join(dir, e.name), r);
          else out.push(r);
        }
      };
      await walk(prefix ? pathOf(prefix) : base, prefix);
      return out.sort();
    },
    move: (from, to) =>
      io(to, async () => {
        await mkdir(dirname(pathOf(to)), { recursive: true });
        await rename(pathOf(from), pathOf(to));
      }),
    remove: (path) => io(path, () => rm(pathOf(path), { force: true })),
    removeTree: (prefix) => io(prefix, () => rm(pathOf(prefix), { recursive: true, force: true })),
  };
}

/** Writes a temporary file beside `full`, then renames it over: readers see old or new. */
async function writeReplacing(full: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(full), { recursive: true });
  const tmp = `${full}.tmp-${process.pid}`;
  if (Array.isArray(bytes)) {
    // parts (a spill holds hundreds) in one gathered write, not one write call per part
    const handle = await open(tmp, 'w');
    try {
      const parts = bytes as Uint8Array[];
      const { bytesWritten } = await handle.writev(parts);
      const size = parts.reduce((n, b) => n + b.byteLength, 0);
      if (bytesWritten !== size) throw new Error(`wrote ${bytesWritten} of ${size} bytes to ${tmp}`);
    } finally {
      await handle.close();
    }
  } else await writeFile(tmp, bytes as Uint8Array);
  await rename(tmp, full);
}

function versionOf(bytes: Uint8Array): string {
  return sha256Hex([bytes]);
}

/** Creates `path` exclusively (O_EXCL), waiting while another writer holds it; a guard older than a minute is stale. */
async function exclusive(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 60_000) await rm(path, { force: true });
      else if (attempt > 200) throw new Error(`${path} is held by another writer`);
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
