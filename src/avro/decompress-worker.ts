/**
 * The decompression worker: a second thread that decompresses blocks while the main thread
 * decodes the previous ones (see decompress-pool.ts). Buffers travel both ways by transfer and
 * are recycled, because touching freshly allocated memory costs more than decompressing here.
 *
 *   → { id, codec, input, inputLength, output?, maxBytes }
 *   ← { id, input, output, length } or { id, input, output?, error: { code, message } }
 */
import { parentPort } from 'node:worker_threads';
import { getDecompressor, type Scratch } from './codecs.js';
import { HeaplakeError } from '../errors.js';

interface Job {
  id: number;
  codec: string;
  input: ArrayBuffer;
  inputLength: number;
  output: ArrayBuffer | undefined;
  maxBytes: number;
}

parentPort!.on('message', async (job: Job) => {
  const scratch: Scratch = { buf: job.output ? new Uint8Array(job.output) : new Uint8Array(0) };
  try {
    const result = getDecompressor(job.codec)(new Uint8Array(job.input, 0, job.inputLength), job.maxBytes, scratch);
    const out = result instanceof Promise ? await result : result;
    let output: ArrayBuffer;
    if (out.buffer === scratch.buf.buffer && out.byteOffset === 0) {
      output = scratch.buf.buffer as ArrayBuffer; // decompressed in place (snappy)
    } else {
      if (scratch.buf.length < out.length) scratch.buf = new Uint8Array(out.length);
      scratch.buf.set(out);
      output = scratch.buf.buffer as ArrayBuffer;
    }
    parentPort!.postMessage({ id: job.id, input: job.input, output, length: out.length }, [job.input, output]);
  } catch (err) {
    const code = err instanceof HeaplakeError ? err.code : 'AVRO_CODEC';
    const message = err instanceof HeaplakeError ? err.detail : String((err as Error)?.message ?? err);
    parentPort!.postMessage({ id: job.id, input: job.input, error: { code, message } }, [job.input]);
  }
});
