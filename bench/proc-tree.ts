/**
 * Memory of a process and its descendants (Linux /proc), for the suite and bench:memory.
 *
 * Two sums: RSS counts every page each process has resident, so pages that processes share
 * (Node's own binary and libraries, ~43 MiB per process here) are counted once per process;
 * PSS (proportional set size) splits each shared page among the processes that map it, so it
 * is what the tree takes from the machine. The suite's targets use RSS, the stricter figure;
 * PSS is reported beside it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface TreeMemory {
  /** Sum of the processes' RSS, bytes. */
  readonly rss: number;
  /** Sum of their PSS, bytes (0 where smaps_rollup cannot be read). */
  readonly pss: number;
  readonly processes: number;
}

const kB = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;

export interface TreeOptions {
  /** Leave `pid`'s own process out (a harness that only waits for its children). */
  readonly descendantsOnly?: boolean;
}

/** The tree's memory, `pid`'s process and its descendants. */
export function treeMemory(pid: number, { descendantsOnly = false }: TreeOptions = {}): TreeMemory {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  const visit = (p: number) => {
    try {
      if (!(descendantsOnly && p === pid)) {
        rss += kB(readFileSync(`/proc/${p}/status`, 'utf8'), 'VmRSS');
        processes++;
        try {
          pss += kB(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'), 'Pss');
        } catch {
          // kernels before 4.14 have no smaps_rollup
        }
      }
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) for (const c of children.split(/\s+/)) visit(Number(c));
      }
    } catch {
      // the process ended while we looked
    }
  };
  visit(pid);
  return { rss, pss, processes };
}

/** Samples a process tree every `ms` until stopped: the largest sums seen. */
export function sampleTree(pid: number, options: TreeOptions & { ms?: number } = {}): { stop(): TreeMemory } {
  let peak = { rss: 0, pss: 0, processes: 0 };
  const take = () => {
    const m = treeMemory(pid, options);
    peak = { rss: Math.max(peak.rss, m.rss), pss: Math.max(peak.pss, m.pss), processes: Math.max(peak.processes, m.processes) };
  };
  const timer = setInterval(take, options.ms ?? 50);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

export interface SampledRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The largest sums the tree reached while the command ran. */
  readonly tree: TreeMemory;
}

/**
 * Runs `command` to its end with its output collected and its process tree sampled meanwhile
 * (without the command's own process when `descendantsOnly`: a harness that only waits).
 */
export function runSampled(command: readonly string[], options: TreeOptions & { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<SampledRun> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const tree = sampleTree(child.pid!, { descendantsOnly: options.descendantsOnly ?? false });
    child.on('exit', (code) => resolve({ code, stdout, stderr, tree: tree.stop() }));
  });
}
