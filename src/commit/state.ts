/**
 * The lake's own metadata, `<target>/_heaplake/state.json`: per table the last applied dump,
 * the merged schema (with stable Parquet field ids) and the live files. It is written last,
 * atomically, by the commit: it is the single source of truth of what the lake holds.
 */
import { HeaplakeError } from '../errors.js';
import type { TypeSpec } from '../schema/merge.js';
import type { Target } from '../sink/target.js';
import { STATE_DIR } from '../manifest/tables.js';

export const STATE_PATH = `${STATE_DIR}/state.json`;
export { STAGING_DIR } from '../manifest/tables.js';

export interface LakeColumn {
  readonly name: string;
  readonly type: TypeSpec;
  readonly fieldId: number;
}

export interface LakeFile {
  /** Path relative to the lake root. */
  readonly path: string;
  /** `dt=YYYY-MM-DD` for partitioned tables; null otherwise. */
  readonly partition: string | null;
  readonly rows: number;
  readonly bytes: number;
  /** SHA-256 of the file's bytes (hex), for `heaplake verify --deep` and task receipts. */
  readonly sha256?: string;
  /** Tables split into key buckets: the bucket of every row of the file. */
  readonly bucket?: number;
}

export interface TableState {
  /** The last dump applied to this table (decimal text: ids are 64-bit). */
  readonly lastDumpId: string;
  readonly key: string | null;
  readonly partitioned: boolean;
  readonly columns: readonly LakeColumn[];
  readonly files: readonly LakeFile[];
  /**
   * Key buckets (absent: 1). A table too big for one task is split by a hash of its key, and
   * each file holds one bucket's rows; an incremental run keeps the table's bucket count.
   */
  readonly buckets?: number;
}

export interface LakeState {
  readonly format: 'heaplake-lake';
  readonly version: 1;
  /** When the last commit was made (ISO 8601), and by which run. */
  readonly committedAt: string | null;
  readonly runId: string | null;
  readonly tables: Readonly<Record<string, TableState>>;
  /**
   * Every dump id the committed runs have seen, in numeric order: a manifest that turns up
   * later with a smaller id than the last of these arrived late and is refused (plan.ts).
   */
  readonly dumps?: readonly string[];
  /**
   * Files the last commit made obsolete. It deletes them right after writing the state; should
   * it die first, the next run deletes what is left (they are dead: no state lists them).
   */
  readonly obsolete?: readonly string[];
}

export const EMPTY_STATE: LakeState = Object.freeze({ format: 'heaplake-lake', version: 1, committedAt: null, runId: null, tables: {} });

export async function readState(target: Target): Promise<LakeState> {
  return (await readStateVersioned(target)).state;
}

/** The state and its version token (undefined for a new lake), for the conditional commit. */
export async function readStateVersioned(target: Target): Promise<{ state: LakeState; version: string | undefined }> {
  const read = await target.readVersioned(STATE_PATH);
  if (read === undefined) return { state: EMPTY_STATE, version: undefined };
  return { state: parseState(read.text), version: read.version };
}

function parseState(text: string): LakeState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HeaplakeError('STATE', `the lake state ${STATE_PATH} is not valid JSON: ${(err as Error).message}`, { file: STATE_PATH }, { cause: err });
  }
  const s = json as Partial<LakeState>;
  if (s.format !== 'heaplake-lake' || s.version !== 1 || typeof s.tables !== 'object' || s.tables === null) {
    throw new HeaplakeError('STATE', `${STATE_PATH} is not a heaplake lake state (format ${JSON.stringify(s.format)}, version ${JSON.stringify(s.version)})`, { file: STATE_PATH });
  }
  return s as LakeState;
}

export function encodeState(state: LakeState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n');
}
