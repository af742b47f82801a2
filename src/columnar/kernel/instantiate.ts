/**
 * What the C kernels (flat-decoder.c, scatter.c) share on the JavaScript side: each is built to
 * import its memory (scripts/build-kernel.mjs: --import-memory, --global-base=4096, a 4 KiB
 * stack), so the caller owns the memory and lays its regions out from HEAP_START up.
 */

/** Below this: the kernel's globals and stack, then a few status words of the caller's. */
export const HEAP_START = 64 * 1024;
const PAGE = 65536;

const modules = new Map<string, WebAssembly.Module>();

/** A new instance of a kernel (its module compiled once per process) with a memory of its own. */
export function instantiateKernel(base64: string): { memory: WebAssembly.Memory; exports: Record<string, unknown> } {
  let module = modules.get(base64);
  if (!module) modules.set(base64, (module = new WebAssembly.Module(Buffer.from(base64, 'base64'))));
  const memory = new WebAssembly.Memory({ initial: 16 });
  return { memory, exports: new WebAssembly.Instance(module, { env: { memory } }).exports };
}

/** Grows `memory` to hold at least `bytes`; true when it grew (views of it must be made again). */
export function growTo(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return false;
  memory.grow(Math.ceil((bytes - have) / PAGE));
  return true;
}
