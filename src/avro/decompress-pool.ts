/**
 * Block decompression on a second thread, so that on a machine with two cores decompressing
 * block n+1 overlaps decoding block n. One worker serves the whole process; it is started on
 * first use and does not keep the process alive when idle. Input and output buffers are
 * recycled between the threads (transferred, never copied across). If the worker cannot
 * start or dies, its jobs (and later ones) are decompressed in the calling thread instead.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { AvroFormatError, type ErrorCode } from '../errors.js';
import { getDecompressor, type Scratch } from './codecs.js';

/** A decompressed block; call `release()` once its bytes are no longer needed. */
export interface Decompressed {
  readonly data: Uint8Array;
  release(): void;
}

interface Job {
  codec: string;
  data: Uint8Array;
  maxBytes: number;
  resolve: (d: Decompressed) => void;
  reject: (err: unknown) => void;
}

let worker: Worker | undefined;
let failed = false;
/** Set once the worker has answered: until then jobs keep a copy, in case it never starts. */
let ready = false;
let nextId = 0;
const pending = new Map<number, Job>();
const inputs: ArrayBuffer[] = [];
const outputs: ArrayBuffer[] = [];
const MAX_POOLED = 8;
const localScratch: Scratch = { buf: new Uint8Array(0) };

const recycle = (pool: ArrayBuffer[], b: ArrayBuffer) => {
  if (pool.length < MAX_POOLED) pool.push(b);
};

async function runLocally(job: Job): Promise<void> {
  try {
    // copy out of the shared scratch before anything else can run (no await in between)
    const result = getDecompressor(job.codec)(job.data, job.maxBytes, localScratch);
    const out = result instanceof Promise ? await result : result;
    job.resolve({ data: out.buffer === localScratch.buf.buffer ? out.slice() : out, release() {} });
  } catch (err) {
    job.reject(err);
  }
}

function start(): Worker | undefined {
  if (worker || failed) return worker;
  try {
    // compiled: the .js beside this module; from source (tests, tsx): the .ts twin, through tsx
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './decompress-worker.ts' : './decompress-worker.js', import.meta.url);
    const w = fromSource
      ? new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`, { eval: true })
      : new Worker(url);
    w.on('message', (msg: { id: number; input: ArrayBuffer; output?: ArrayBuffer; length?: number; error?: { code: ErrorCode; message: string } }) => {
      const job = pending.get(msg.id);
      if (!job) return;
      pending.delete(msg.id);
      if (pending.size === 0) w.unref();
      ready = true;
      recycle(inputs, msg.input);
      if (msg.error) {
        job.reject(new AvroFormatError(msg.error.code, msg.error.message));
        return;
      }
      const output = msg.output!;
      job.resolve({ data: new Uint8Array(output, 0, msg.length!), release: () => recycle(outputs, output) });
    });
    w.on('error', (err) => {
      if (process.env['HEAPLAKE_DEBUG']) process.emitWarning(`decompression worker failed: ${String(err)}`);
      failed = true;
      worker = undefined;
      const jobs = [...pending.values()];
      pending.clear();
      for (const job of jobs) void runLocally(job);
    });
    w.unref();
    worker = w;
  } catch {
    failed = true;
  }
  return worker;
}

/** Whether a second thread is worth it here. */
export function parallelDecompressionAvailable(): boolean {
  return availableParallelism() > 1 && !failed;
}

/** Decompresses one block on the worker thread (or here, if it cannot run). `data` is copied. */
export function decompressOnWorker(codec: string, data: Uint8Array, maxBytes: number): Promise<Decompressed> {
  return new Promise<Decompressed>((resolve, reject) => {
    const w = start();
    if (!w) {
      const copy = new Uint8Array(data.length); // Buffer#slice would be a view, not a copy
      copy.set(data);
      void runLocally({ codec, data: copy, maxBytes, resolve, reject });
      return;
    }
    const i = inputs.findIndex((b) => b.byteLength >= data.length);
    const input = i >= 0 ? inputs.splice(i, 1)[0]! : new ArrayBuffer(Math.ceil(data.length * 1.25));
    new Uint8Array(input, 0, data.length).set(data);
    const output = outputs.pop();
    const id = nextId++;
    // until the worker has answered once, keep a copy for a local retry should it fail to start
    const keep = ready ? new Uint8Array(0) : Uint8Array.prototype.slice.call(data);
    pending.set(id, { codec, data: keep, maxBytes, resolve, reject });
    w.ref();
    w.postMessage({ id, codec, input, inputLength: data.length, output, maxBytes }, output ? [input, output] : [input]);
  });
}
