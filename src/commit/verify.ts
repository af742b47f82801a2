/**
 * Checks a lake against its state, the way a careful reader would before trusting it: every
 * file the state lists exists with the size the commit recorded (with `deep`, it is also read:
 * its SHA-256 and number of rows are the recorded ones); files the state does not list are reported as
 * unlisted — invisible to readers that go through the state, removed by the next commit.
 */
import { createHash } from 'node:crypto';
import { HeaplakeError } from '../errors.js';
import type { Target } from '../sink/target.js';
import { readParquetBytes } from '../sink/parquet.js';
import { STATE_DIR } from '../manifest/tables.js';
import { readState } from './state.js';

export interface VerifyReport {
  readonly target: string;
  readonly committedAt: string | null;
  readonly tables: number;
  readonly files: number;
  readonly rows: number;
  readonly bytes: number;
  /** Listed files that are missing or differ from what the state records. */
  readonly problems: readonly { path: string; problem: string }[];
  /** Parquet files under the tables' folders that the state does not list. */
  readonly unlisted: readonly string[];
}

export async function verifyLake(target: Target, options: { deep?: boolean } = {}): Promise<VerifyReport> {
  const state = await readState(target);
  const problems: { path: string; problem: string }[] = [];
  let files = 0;
  let rows = 0;
  let bytes = 0;
  const live = new Set<string>();
  for (const table of Object.values(state.tables)) {
    for (const f of table.files) {
      files++;
      rows += f.rows;
      bytes += f.bytes;
      live.add(f.path);
      const size = await target.size(f.path);
      if (size === undefined) {
        problems.push({ path: f.path, problem: 'missing' });
        continue;
      }
      if (size !== f.bytes) {
        problems.push({ path: f.path, problem: `${size} bytes, the state records ${f.bytes}` });
        continue;
      }
      if (options.deep) {
        try {
          const content = await target.readBytes(f.path);
          if (f.sha256 !== undefined && createHash('sha256').update(content).digest('hex') !== f.sha256) {
            problems.push({ path: f.path, problem: 'its SHA-256 differs from the one the state records' });
            continue;
          }
          const n = readParquetBytes(content).batches.reduce((k, b) => k + b.numRows, 0);
          if (n !== f.rows) problems.push({ path: f.path, problem: `${n} rows, the state records ${f.rows}` });
        } catch (err) {
          problems.push({ path: f.path, problem: `unreadable: ${(err as Error).message}` });
        }
      }
    }
  }
  const unlisted: string[] = [];
  for (const name of Object.keys(state.tables)) {
    for (const path of await target.list(name)) if (path.endsWith('.parquet') && !live.has(path)) unlisted.push(path);
  }
  for (const path of await target.list(STATE_DIR)) if (path.endsWith('.parquet')) unlisted.push(path);
  return { target: target.description, committedAt: state.committedAt, tables: Object.keys(state.tables).length, files, rows, bytes, problems, unlisted };
}

/** The verification as an error, when it found problems. */
export function verifyError(report: VerifyReport): HeaplakeError | undefined {
  if (report.problems.length === 0) return undefined;
  const list = report.problems.slice(0, 20).map((p) => `${p.path}: ${p.problem}`).join('; ');
  return new HeaplakeError('STATE', `${report.problems.length} file(s) of ${report.target} differ from the committed state: ${list}`, { file: report.problems[0]!.path });
}
