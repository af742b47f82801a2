/**
 * A Target that calls `hook(op, path)` before every side-effecting operation (and once more at
 * the end of each Parquet write from batches, before the file is complete), to crash a run at each of them
 * (kill-point tests).
 */
import type { Target } from '../../src/sink/target.js';

export type KillPoint = { op: string; path: string };

export function faultyTarget(inner: Target, hook: (point: KillPoint) => void | Promise<void>): Target {
  return {
    ...inner,
    async writeParquet(path, schema, batches, options) {
      await hook({ op: 'writeParquet', path });
      // a second point once every batch has gone to the writer, before the file is complete
      // (on S3: the parts are uploaded, the multipart upload not yet completed)
      async function* thenHook() {
        yield* batches;
        await hook({ op: 'writeParquet:end', path });
      }
      return inner.writeParquet(path, schema, thenHook(), options);
    },
    ...(inner.writeEncoded
      ? {
          async writeEncoded(path: string, pieces: readonly Uint8Array[]) {
            await hook({ op: 'writeEncoded', path });
            return inner.writeEncoded!(path, pieces);
          },
        }
      : {}),
    async writeAtomic(path, bytes) {
      await hook({ op: 'writeAtomic', path });
      return inner.writeAtomic(path, bytes);
    },
    async writeIfUnchanged(path, bytes, version) {
      await hook({ op: 'writeIfUnchanged', path });
      return inner.writeIfUnchanged(path, bytes, version);
    },
    async move(from, to) {
      await hook({ op: 'move', path: to });
      return inner.move(from, to);
    },
    async remove(path) {
      await hook({ op: 'remove', path });
      return inner.remove(path);
    },
    async removeTree(path) {
      await hook({ op: 'removeTree', path });
      return inner.removeTree(path);
    },
  };
}
