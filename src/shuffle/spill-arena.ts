/**
 * Reused memory for a map task's scattered columns, which live from the scatter until the
 * spill's writes end (map-task.ts waits for those writes before it scatters the next spill).
 *
 * Why: scattered into fresh buffers, every spill made B × columns new ArrayBuffers (51 × 35 at
 * 10M rows, ~37 KB each), which glibc serves from its heap and V8 frees only at its next
 * collection (at the end of a 1M-row run glibc's heap held 170 MiB resident, little of it
 * live). Copied into chunks kept from spill to spill, the memory is touched once and reused:
 * one process's peak 250/251 against 299/301 MiB at 1M rows, 288/293 against 333/337 at 10M
 * (bench/results/memory-2026-12-07c.md).
 */

/** Bytes per chunk (a copy larger than that gets a chunk of its own size). */
const CHUNK = 16 * 1024 * 1024;

export interface SpillArena {
  /** A copy of `bytes` in the arena, valid until the next `reset` (8-byte aligned). */
  copy(bytes: Uint8Array): Uint8Array<ArrayBuffer>;
  /** Every earlier copy may be overwritten from now on. */
  reset(): void;
}

/** An arena that a finished map task gave back, for the process's next map task. */
let spare: SpillArena | undefined;

/** An arena for a map task: the last one's memory when there is one. */
export function takeSpillArena(): SpillArena {
  const a = spare ?? spillArena();
  spare = undefined;
  a.reset();
  return a;
}

/** Gives a map task's arena back, for the next map task of this process. */
export function giveBackSpillArena(a: SpillArena): void {
  spare = a;
}

/** Lets the spare arena go (a task that does not spill, such as a reduce, needs the memory more). */
export function dropSpillArena(): void {
  spare = undefined;
}

export function spillArena(): SpillArena {
  const chunks: ArrayBuffer[] = [];
  let chunk = 0;
  let at = 0;
  return {
    copy(bytes) {
      const n = bytes.byteLength;
      while (chunk < chunks.length && chunks[chunk]!.byteLength - at < n) {
        chunk++;
        at = 0;
      }
      if (chunk === chunks.length) chunks.push(new ArrayBuffer(Math.max(CHUNK, n)));
      const out = new Uint8Array(chunks[chunk]!, at, n);
      out.set(bytes);
      at += (n + 7) & ~7;
      return out;
    },
    reset() {
      chunk = 0;
      at = 0;
    },
  };
}
