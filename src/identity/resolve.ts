/**
 * Identity resolution for Heap-on-S3 (../shared/docs/heap-connect-s3.md §4.4): Heap does not
 * resolve identities in S3 exports; `user_migrations` maps `from_user_id` → `to_user_id`, and
 * every consumer must follow it. heaplake derives two tables from the lake's `users` and
 * `user_migrations`:
 *
 * - `user_identity`: one row per known user_id (from `users` and both sides of the
 *   migrations) with its `resolved_user_id` — the end of its migration chain (A→B, B→C gives
 *   C), itself when it has none.
 * - `users_resolved`: one row per resolved_user_id with at least one `users` row behind it:
 *   the earliest `joindate`, the latest `last_modified`, and for every other column the latest
 *   non-null value by `last_modified` (a tie goes to the row later in the table), plus
 *   `merged_user_count`.
 *
 * Cycles (A→B→A) are reported and resolved deterministically: every id on a cycle, and every
 * id leading into it, resolves to the smallest id on the cycle. Each `from_user_id` has one
 * target in the lake (the table is de-duplicated on it, latest wins).
 */
import { RecordBatch, makeData, Struct, type Data } from 'apache-arrow';
import { gatherColumn, isValid, newGatherStats, type RowRefs } from '../columnar/gather.js';
import { lakeSchema, type TypeSpec } from '../schema/merge.js';
import type { LakeColumn } from '../commit/state.js';

export interface IdentityReport {
  knownUsers: number;
  migrations: number;
  /** Ids whose chain has more than one hop. */
  chains: number;
  longestChain: number;
  /** Cycles found, as their sorted member ids (text: ids are 64-bit). */
  cycles: string[][];
  resolvedUsers: number;
}

export interface IdentityTables {
  identity: { columns: LakeColumn[]; batch: RecordBatch };
  resolved: { columns: LakeColumn[]; batch: RecordBatch };
  report: IdentityReport;
}

interface TableInput {
  readonly batches: readonly RecordBatch[];
  readonly columns: readonly LakeColumn[];
}

function col(batch: RecordBatch, name: string): Data | undefined {
  const i = batch.schema.fields.findIndex((f) => f.name === name);
  return i < 0 ? undefined : batch.data.children[i];
}

function int64(d: Data | undefined, r: number): bigint | undefined {
  if (!d || !isValid(d, r)) return undefined;
  const v = d.values as ArrayLike<bigint | number>;
  return BigInt(v[r]!);
}

/** Follows every id's migration chain to its end; reports chains and cycles. */
export function resolveIds(mapping: ReadonlyMap<bigint, bigint>): { resolved: Map<bigint, bigint>; chains: number; longest: number; cycles: bigint[][] } {
  const resolved = new Map<bigint, bigint>();
  const cycles: bigint[][] = [];
  let chains = 0;
  let longest = 0;
  for (const start of mapping.keys()) {
    if (resolved.has(start)) continue;
    const path: bigint[] = [];
    const onPath = new Map<bigint, number>();
    let id = start;
    let end: bigint | undefined;
    for (;;) {
      if (resolved.has(id)) {
        end = resolved.get(id)!;
        break;
      }
      if (onPath.has(id)) {
        // a cycle: its members (from the first visit of `id` on) resolve to the smallest of them
        const members = path.slice(onPath.get(id)!);
        const smallest = members.reduce((a, b) => (b < a ? b : a));
        cycles.push([...members].sort((a, b) => (a < b ? -1 : 1)));
        for (const m of members) resolved.set(m, smallest);
        end = smallest;
        break;
      }
      onPath.set(id, path.length);
      path.push(id);
      const next = mapping.get(id);
      if (next === undefined) {
        end = id;
        break;
      }
      id = next;
    }
    for (const p of path) if (!resolved.has(p)) resolved.set(p, end);
    const hops = path.length - 1;
    if (hops > 1) chains++;
    longest = Math.max(longest, hops);
  }
  return { resolved, chains, longest, cycles };
}

const BIGINT_COLUMNS: readonly LakeColumn[] = [
  { name: 'user_id', type: 'int64', fieldId: 1 },
  { name: 'resolved_user_id', type: 'int64', fieldId: 2 },
];

export function resolveIdentities(users: TableInput, migrations: TableInput): IdentityTables {
  // the mapping, from the lake's user_migrations (one row per from_user_id)
  const mapping = new Map<bigint, bigint>();
  for (const b of migrations.batches) {
    const from = col(b, 'from_user_id');
    const to = col(b, 'to_user_id');
    for (let r = 0; r < b.numRows; r++) {
      const f = int64(from, r);
      const t = int64(to, r);
      if (f !== undefined && t !== undefined) mapping.set(f, t);
    }
  }
  const { resolved, chains, longest, cycles } = resolveIds(mapping);
  const resolveOf = (id: bigint) => resolved.get(id) ?? id;

  // user_identity: every id seen in users or on either side of a migration
  const known = new Set<bigint>();
  for (const b of users.batches) {
    const ids = col(b, 'user_id');
    for (let r = 0; r < b.numRows; r++) {
      const id = int64(ids, r);
      if (id !== undefined) known.add(id);
    }
  }
  for (const [f, t] of mapping) {
    known.add(f);
    known.add(t);
  }
  const ids = [...known].sort((a, b) => (a < b ? -1 : 1));
  const identityBatch = int64Batch(BIGINT_COLUMNS, [BigInt64Array.from(ids), BigInt64Array.from(ids, resolveOf)]);

  // users_resolved: group users rows by resolved id, pick each column's source row
  const groups = new Map<bigint, { batch: number; row: number; lm: bigint | undefined }[]>();
  users.batches.forEach((b, bi) => {
    const idCol = col(b, 'user_id');
    const lmCol = col(b, 'last_modified');
    for (let r = 0; r < b.numRows; r++) {
      const id = int64(idCol, r);
      if (id === undefined) continue;
      const key = resolveOf(id);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push({ batch: bi, row: r, lm: int64(lmCol, r) });
    }
  });
  const keys = [...groups.keys()].sort((a, b) => (a < b ? -1 : 1));
  const userColumns = users.columns.filter((c) => c.name !== 'user_id');
  const resolvedColumns: LakeColumn[] = [
    { name: 'resolved_user_id', type: 'int64', fieldId: 1 },
    ...userColumns.map((c, i) => ({ name: c.name, type: c.type, fieldId: i + 2 })),
    { name: 'merged_user_count', type: 'int32', fieldId: userColumns.length + 2 },
  ];
  const children: Data[] = [int64Data(BigInt64Array.from(keys))];
  const stats = newGatherStats();
  for (const c of userColumns) {
    const sources = users.batches.map((b) => col(b, c.name));
    const batch = new Int32Array(keys.length);
    const row = new Int32Array(keys.length);
    keys.forEach((k, i) => {
      const pick = chooseRow(groups.get(k)!, c.name, sources);
      batch[i] = pick.batch;
      row[i] = pick.row;
    });
    const refs: RowRefs = { batch, row, length: keys.length };
    children.push(gatherColumn(c.type as TypeSpec, sources, refs, stats));
  }
  children.push(makeData({ type: lakeSchema([resolvedColumns[resolvedColumns.length - 1]!]).fields[0]!.type, length: keys.length, nullCount: 0, data: Int32Array.from(keys, (k) => groups.get(k)!.length) } as never));
  const resolvedSchema = lakeSchema(resolvedColumns, new Map([['heaplake.table', 'users_resolved']]));
  const resolvedBatch = new RecordBatch(resolvedSchema, makeData({ type: new Struct(resolvedSchema.fields), length: keys.length, nullCount: 0, children }));

  return {
    identity: { columns: [...BIGINT_COLUMNS], batch: identityBatch },
    resolved: { columns: resolvedColumns, batch: resolvedBatch },
    report: {
      knownUsers: ids.length,
      migrations: mapping.size,
      chains,
      longestChain: longest,
      cycles: cycles.map((c) => c.map(String)),
      resolvedUsers: keys.length,
    },
  };
}

/**
 * The row a merged user takes a column from: joindate the earliest, last_modified the latest,
 * anything else the latest non-null by last_modified (ties: the later row).
 */
function chooseRow(group: { batch: number; row: number; lm: bigint | undefined }[], name: string, sources: readonly (Data | undefined)[]): { batch: number; row: number } {
  const lmOf = (g: { lm: bigint | undefined }) => g.lm ?? -(2n ** 64n);
  if (name === 'joindate') {
    let best: { batch: number; row: number; v: bigint } | undefined;
    for (const g of group) {
      const v = int64(sources[g.batch], g.row);
      if (v !== undefined && (best === undefined || v < best.v)) best = { ...g, v };
    }
    return best ?? group[0]!;
  }
  let best = group[0]!;
  let bestHasValue = false;
  for (const g of group) {
    const d = sources[g.batch];
    const has = d !== undefined && isValid(d, g.row);
    if (name === 'last_modified' || (has && (!bestHasValue || lmOf(g) >= lmOf(best)))) {
      if (name === 'last_modified' ? lmOf(g) >= lmOf(best) : true) {
        best = g;
        bestHasValue = has;
      }
    }
  }
  return best;
}

function int64Data(values: BigInt64Array): Data {
  return makeData({ type: lakeSchema([{ name: 'x', type: 'int64', fieldId: 1 }]).fields[0]!.type, length: values.length, nullCount: 0, data: values } as never);
}

function int64Batch(columns: readonly LakeColumn[], data: BigInt64Array[]): RecordBatch {
  const schema = lakeSchema(columns, new Map([['heaplake.table', 'user_identity']]));
  const length = data[0]!.length;
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children: data.map(int64Data) }));
}
