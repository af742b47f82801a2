/**
 * Byte-level mutation fuzzing of the Avro reader: valid files from the conformance corpus and
 * fixtures/ are flipped, truncated, spliced and given huge varints, then decoded in random
 * chunks. The only acceptable outcomes are success or a HeaplakeError; anything else (a
 * TypeError, RangeError, a hang) is a bug. Used by test/fuzz.test.ts (short, fixed seed) and
 * scripts/fuzz.ts (`npm run fuzz -- --seconds N`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HeaplakeError } from '../src/errors.js';
import { openAvro } from '../src/columnar/read-avro.js';
import { prng } from './heap-like.js';

/** Tight limits so a mutated size cannot make a run slow or large. */
export const FUZZ_LIMITS = {
  maxHeaderBytes: 1 << 20,
  maxBlockBytes: 8 << 20,
  maxDecompressedBlockBytes: 8 << 20,
  maxBlockRecords: 1 << 20,
  maxCollectionItems: 1 << 20,
};

export function corpusFiles(dirs: string[], maxBytes = 64 * 1024): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (/\.avro$/.test(name) && st.size <= maxBytes) out.push(path);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

export function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const bytes = Uint8Array.from(input);
  const int = (n: number) => Math.floor(rand() * n);
  switch (int(7)) {
    case 0: {
      for (let k = 1 + int(8); k > 0; k--) bytes[int(bytes.length)]! ^= 1 << int(8);
      return bytes;
    }
    case 1: {
      const interesting = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x02, 0xfe];
      for (let k = 1 + int(4); k > 0; k--) bytes[int(bytes.length)] = interesting[int(interesting.length)]!;
      return bytes;
    }
    case 2:
      return bytes.subarray(0, int(bytes.length));
    case 3: {
      const at = int(bytes.length);
      const extra = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      return Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
    }
    case 4: {
      const at = int(bytes.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + int(16))]);
    }
    case 5: {
      // a huge varint in place of whatever was there
      const at = int(bytes.length);
      const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
      const len = 1 + int(huge.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...huge.slice(huge.length - len), ...bytes.subarray(at + len)]);
    }
    default: {
      const from = int(bytes.length);
      const len = int(64);
      const to = int(bytes.length);
      return Uint8Array.from([...bytes.subarray(0, to), ...bytes.subarray(from, from + len), ...bytes.subarray(to)]);
    }
  }
}

export interface FuzzFailure {
  input: Uint8Array;
  source: string;
  error: unknown;
  seconds: number;
}

/** Decodes one input in random chunks; returns a failure when the outcome is not acceptable. */
export async function fuzzOne(input: Uint8Array, source: string, rand: () => number, maxSeconds: number): Promise<FuzzFailure | undefined> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < input.length; ) {
    const n = 1 + Math.floor(rand() * 4096);
    chunks.push(input.subarray(i, i + n));
    i += n;
  }
  const started = performance.now();
  try {
    const reader = await openAvro(chunks, { limits: FUZZ_LIMITS, batch: { maxRows: 512 } });
    for await (const batch of reader.batches()) void batch;
  } catch (error) {
    if (!(error instanceof HeaplakeError)) return { input, source, error, seconds: (performance.now() - started) / 1000 };
  }
  const seconds = (performance.now() - started) / 1000;
  if (seconds > maxSeconds) return { input, source, error: new Error(`took ${seconds.toFixed(1)} s`), seconds };
  return undefined;
}

/** Runs mutations until `deadline` (ms timestamp) or `maxCases`; returns the failures and the count. */
export async function fuzz(files: string[], seed: number, options: { deadline: number; maxCases?: number; maxSeconds?: number }): Promise<{ cases: number; failures: FuzzFailure[] }> {
  const rand = prng(seed);
  const seeds = files.map((f) => ({ f, bytes: readFileSync(f) }));
  const failures: FuzzFailure[] = [];
  let cases = 0;
  while (performance.now() < options.deadline && cases < (options.maxCases ?? Infinity)) {
    const { f, bytes } = seeds[Math.floor(rand() * seeds.length)]!;
    let input: Uint8Array = bytes;
    for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) input = mutate(input, rand);
    const failure = await fuzzOne(input, f, rand, options.maxSeconds ?? 5);
    if (failure) failures.push(failure);
    cases++;
  }
  return { cases, failures };
}
