/**
 * The plan of a run: which dumps exist, and for each table what to apply — a pure function of
 * the manifests, the options and the lake's committed state. Everything that can be checked
 * before output changes is checked here: every manifest parses (a manifest that does not is
 * read once more, in case it was caught mid-write), dump ids are unique (two manifests with
 * the same id and the same bytes count as one), no dump arrives after a later one was applied,
 * every listed file exists and is not empty (all such files are reported at once).
 *
 * Per table: the dumps newer than the table's last applied dump, in numeric order. If one of
 * them is a full resync (`incremental: false`; `user_migrations` always), the table is
 * replaced from the latest such dump and earlier ones are skipped; otherwise the new dumps
 * are merged into the table. Files of the skipped dumps still count for the schema merge, so
 * a one-shot run and an incremental one agree on the columns.
 */
import { ManifestError, UsageError } from '../errors.js';
import type { Source } from '../source/source.js';
import type { LakeState } from '../commit/state.js';
import { MANIFEST_KEY, parseManifest, type HeapManifest } from './manifest.js';
import { EVENT_METADATA, checkTableName, globMatcher, isEventLike, keyColumn, tableKind } from './tables.js';

export interface PlanOptions {
  /** Only tables matching these names or globs. */
  tables?: readonly string[];
  /** Leave out tables matching these names or globs. */
  excludeTables?: readonly string[];
  /** Pass `_event_metadata` through (without de-duplication) instead of skipping it. */
  includeEventMetadata?: boolean;
  /** YYYY-MM-DD: rows of event-like tables earlier than this are left out (and counted). */
  startDate?: string;
  /**
   * A dump that appears after a later dump was applied stops the run by default (its rows
   * would otherwise be silently missing); with this option it is left out, with a warning.
   */
  skipLateDumps?: boolean;
}

export interface PlannedFile {
  readonly key: string;
  readonly size: number;
  /** The version seen while planning (S3 ETag): the run reads exactly that. */
  readonly etag?: string;
}

export interface PlannedDump {
  readonly dumpId: bigint;
  readonly incremental: boolean;
  readonly files: readonly PlannedFile[];
  /** Columns the manifest announces for this table in this dump. */
  readonly columns: readonly string[] | undefined;
}

export interface TablePlan {
  readonly table: string;
  readonly key: string | undefined;
  readonly partitioned: boolean;
  /** replace: start from empty (a full resync); merge: upsert into what the lake holds. */
  readonly mode: 'replace' | 'merge';
  /** The dumps to apply, in order. */
  readonly dumps: readonly PlannedDump[];
  /** Dumps of this run that a later full resync supersedes (read for their schema only). */
  readonly superseded: readonly PlannedDump[];
  /** The dump to record as applied. */
  readonly lastDumpId: bigint;
  readonly previousDumpId: bigint | undefined;
}

export interface RunPlan {
  readonly source: string;
  /** Every valid manifest, in dump order (with its recorded `property_definitions`). */
  readonly dumps: readonly { key: string; dumpId: bigint; tables: readonly string[]; propertyDefinitions: string | undefined }[];
  readonly tables: readonly TablePlan[];
  /** Tables with nothing new, or left out by an option, and why. */
  readonly skipped: readonly { table: string; reason: string }[];
  /** Keys under manifests/ that are not sync manifests. */
  readonly ignoredKeys: readonly string[];
  /** Start date as epoch microseconds, when given. */
  readonly startMicros: number | undefined;
  readonly warnings: readonly string[];
}

export async function planRun(source: Source, state: LakeState, options: PlanOptions = {}): Promise<RunPlan> {
  const startMicros = parseStartDate(options.startDate);
  const ignoredKeys: string[] = [];
  const found: { key: string; id: bigint }[] = [];
  for await (const obj of source.list('manifests/')) {
    const m = MANIFEST_KEY.exec(obj.key);
    if (m) found.push({ key: obj.key, id: BigInt(m[1]!) });
    else ignoredKeys.push(obj.key);
  }
  // numeric order: sync_99 before sync_100 (a real bug in other loaders)
  found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.key < b.key ? -1 : 1));
  const manifests: HeapManifest[] = [];
  const warnings: string[] = [];
  // every manifest must name one bucket; that it differs from the source's own is only worth a
  // warning (exports get copied between buckets), since keys resolve under the source anyway
  let bucket: string | undefined;
  const bytesOf = new Map<string, Uint8Array>();
  const applied = new Set(state.dumps ?? []);
  const lastApplied = (state.dumps ?? []).reduce<bigint | undefined>((max, d) => (max === undefined || BigInt(d) > max ? BigInt(d) : max), undefined);
  for (const { key, id } of found) {
    if (lastApplied !== undefined && id < lastApplied && !applied.has(String(id))) {
      const message = `dump ${id} (${key}) appeared after dump ${lastApplied} was applied: its rows are not in the lake`;
      if (!options.skipLateDumps) {
        throw new ManifestError('MANIFEST', `${message}. Rebuild the lake from a full resync, or run with --skip-late-dumps to leave it out`, { file: key, field: 'dump_id' });
      }
      warnings.push(`${message}; left out (--skip-late-dumps)`);
      continue;
    }
    const { manifest, bytes } = await readManifest(source, key, bucket, warnings);
    bucket ??= manifest.bucket;
    const previous = manifests[manifests.length - 1];
    if (previous && previous.dumpId === manifest.dumpId) {
      if (equalBytes(bytesOf.get(previous.key)!, bytes)) {
        warnings.push(`manifests ${previous.key} and ${key} are identical: applied once`);
        continue;
      }
      throw new ManifestError('MANIFEST', `manifests ${previous.key} and ${key} both have dump_id ${manifest.dumpId}, with different contents`, { file: key, field: 'dump_id' });
    }
    for (const t of manifest.tables) checkTableName(t.name, key);
    manifests.push(manifest);
    bytesOf.set(key, bytes);
  }

  if (source.bucket !== undefined && bucket !== undefined && bucket !== source.bucket) {
    warnings.push(`the manifests name bucket "${bucket}", the source is "${source.bucket}": reading the keys from the source`);
  }
  const include = options.tables && options.tables.length > 0 ? globMatcher(options.tables) : () => true;
  const exclude = options.excludeTables && options.excludeTables.length > 0 ? globMatcher(options.excludeTables) : () => false;
  const names = [...new Set(manifests.flatMap((m) => m.tables.map((t) => t.name)))].sort();
  const skipped: { table: string; reason: string }[] = [];
  const chosen: { table: string; dumps: PlannedDump[]; previous: bigint | undefined }[] = [];
  for (const table of names) {
    if (table === EVENT_METADATA && !options.includeEventMetadata) {
      skipped.push({ table, reason: 'skipped by default (--include-event-metadata passes it through)' });
      continue;
    }
    if (!include(table) || exclude(table)) {
      skipped.push({ table, reason: 'left out by --tables / --exclude-tables' });
      continue;
    }
    const last = state.tables[table]?.lastDumpId;
    const previous = last === undefined ? undefined : BigInt(last);
    const dumps: PlannedDump[] = [];
    for (const m of manifests) {
      if (previous !== undefined && m.dumpId <= previous) continue;
      const entry = m.tables.find((t) => t.name === table);
      if (!entry) continue;
      dumps.push({ dumpId: m.dumpId, incremental: entry.incremental, files: entry.files.map((key) => ({ key, size: -1 })), columns: entry.columns });
    }
    if (dumps.length === 0) {
      skipped.push({ table, reason: previous === undefined ? 'no dumps' : `up to date (dump ${previous})` });
      continue;
    }
    chosen.push({ table, dumps, previous });
  }

  // every file the run will touch must exist before anything is written
  // sizes come from one listing per dump folder (an S3 HEAD per file would take minutes on
  // exports of thousands of files); a file found elsewhere is asked for on its own
  const missing: string[] = [];
  const sizes = new Map<string, number>();
  const etags = new Map<string, string>();
  const listed = new Set<string>();
  for (const { dumps } of chosen) {
    for (const d of dumps) {
      const folder = `sync_${d.dumpId}/`;
      if (d.files.some((f) => f.key.startsWith(folder)) && !listed.has(folder)) {
        listed.add(folder);
        for await (const o of source.list(folder)) {
          sizes.set(o.key, o.size);
          if (o.etag) etags.set(o.key, o.etag);
        }
      }
    }
  }
  for (const { dumps } of chosen) {
    for (const d of dumps) {
      for (const f of d.files) {
        if (sizes.has(f.key)) continue;
        const size = await source.size(f.key);
        if (size === undefined) missing.push(f.key);
        else sizes.set(f.key, size);
      }
    }
  }
  if (missing.length > 0) {
    // M11: a manifest can be visible before the producer has written all its files
    throw new ManifestError(
      'MANIFEST',
      `${missing.length} file(s) listed in manifests are missing from ${source.description}: ${listOf(missing)}. Nothing was changed; if Heap is still writing the dump, run again once it is complete`,
      { file: missing[0]! },
    );
  }
  // an Avro file has at least a header: an empty object is a failed or unfinished upload
  const empty = [...new Set(chosen.flatMap(({ dumps }) => dumps.flatMap((d) => d.files.map((f) => f.key))))].filter((key) => sizes.get(key) === 0);
  if (empty.length > 0) {
    throw new ManifestError('MANIFEST', `${empty.length} file(s) listed in manifests are empty (0 bytes): ${listOf(empty)}. Nothing was changed`, { file: empty[0]! });
  }

  const tables: TablePlan[] = chosen.map(({ table, dumps, previous }) => {
    const withSizes = dumps.map((d) => ({
      ...d,
      files: d.files.map((f) => {
        const etag = etags.get(f.key);
        return etag ? { key: f.key, size: sizes.get(f.key)!, etag } : { key: f.key, size: sizes.get(f.key)! };
      }),
    }));
    const full = tableKind(table) === 'user_migrations' ? withSizes.map((_, i) => i) : withSizes.flatMap((d, i) => (d.incremental ? [] : [i]));
    const from = full.length > 0 ? full[full.length - 1]! : -1;
    return {
      table,
      key: keyColumn(table),
      partitioned: isEventLike(table),
      mode: from >= 0 ? 'replace' : 'merge',
      dumps: withSizes.slice(Math.max(from, 0)),
      superseded: withSizes.slice(0, Math.max(from, 0)),
      lastDumpId: withSizes[withSizes.length - 1]!.dumpId,
      previousDumpId: previous,
    };
  });

  return {
    source: source.description,
    dumps: manifests.map((m) => ({ key: m.key, dumpId: m.dumpId, tables: m.tables.map((t) => t.name), propertyDefinitions: m.propertyDefinitions })),
    tables,
    skipped,
    ignoredKeys,
    startMicros,
    warnings,
  };
}

/** Reads and parses a manifest, once more if the first read does not parse (caught mid-write, or cut short). */
async function readManifest(source: Source, key: string, bucket: string | undefined, warnings: string[]): Promise<{ manifest: HeapManifest; bytes: Uint8Array }> {
  const first = await source.readAll(key);
  try {
    return { manifest: parseManifest(key, first, bucket), bytes: first };
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    const second = await source.readAll(key);
    if (equalBytes(first, second)) throw err;
    const manifest = parseManifest(key, second, bucket);
    warnings.push(`${key} did not parse on the first read (${err.message}); the second read did`);
    return { manifest, bytes: second };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function listOf(keys: readonly string[]): string {
  return keys.slice(0, 20).join(', ') + (keys.length > 20 ? `, and ${keys.length - 20} more` : '');
}

function parseStartDate(date: string | undefined): number | undefined {
  if (date === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) {
    throw new UsageError('USAGE', `--start-date must be a date as YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }
  return ms * 1000;
}
