/**
 * Heap sync manifests (`manifests/sync_<dump_id>.json`; ../shared/docs/heap-connect-s3.md §2):
 * parse, validate, and map each listed `s3://bucket/key` file onto the export root.
 *
 * A manifest is refused, naming the manifest and the field, when it is not JSON, lacks
 * `dump_id`/`tables`/`name`/`files`/`incremental` or has them with the wrong type, disagrees
 * with its key's dump id, or lists a file outside the export (another bucket, `..`, not s3://)
 * or one that is not an `.avro` file. A byte-order mark is refused with its own message: Heap
 * never writes one, so it means the file was edited or re-encoded on the way.
 * Unknown keys are ignored; `property_definitions` is recorded.
 */
import { ManifestError } from '../errors.js';
import { isSafeKey } from '../source/source.js';

export interface ManifestTable {
  readonly name: string;
  /** The columns Heap says the table has in this dump (informative; Avro schemas rule). */
  readonly columns: readonly string[] | undefined;
  /** Keys of the table's files under the export root, in manifest order. */
  readonly files: readonly string[];
  readonly incremental: boolean;
}

export interface HeapManifest {
  /** The manifest's own key (`manifests/sync_852.json`). */
  readonly key: string;
  readonly dumpId: bigint;
  readonly tables: readonly ManifestTable[];
  readonly propertyDefinitions: string | undefined;
  /** The bucket the file URIs name. */
  readonly bucket: string | undefined;
}

export const MANIFEST_KEY = /^manifests\/sync_(\d+)\.json$/;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses one manifest. `bucket`: the bucket files must be in (undefined: any one bucket). */
export function parseManifest(key: string, bytes: Uint8Array, bucket?: string): HeapManifest {
  const fail = (field: string, message: string): never => {
    throw new ManifestError('MANIFEST', `manifest ${key}: ${message}`, { file: key, field });
  };
  const keyMatch = MANIFEST_KEY.exec(key);
  if (!keyMatch) fail('key', 'the key is not manifests/sync_<dump_id>.json');
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return fail('', 'not valid UTF-8');
  }
  // TextDecoder drops a leading byte-order mark by itself: look at the bytes
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) fail('', 'not valid JSON: it starts with a byte-order mark (was the file edited or re-encoded?)');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail('', `not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail('', 'not a JSON object');
  const obj = json as Record<string, unknown>;

  const rawId = obj['dump_id'];
  if (typeof rawId !== 'number' || !Number.isInteger(rawId) || rawId < 0) fail('dump_id', `"dump_id" must be a non-negative integer, got ${JSON.stringify(rawId)}`);
  // ids are 64-bit: read the digits themselves, not the double JSON.parse made of them
  const digits = /"dump_id"\s*:\s*(\d+)/.exec(text)?.[1];
  const dumpId = BigInt(digits ?? String(rawId));
  if (dumpId !== BigInt(keyMatch![1]!)) fail('dump_id', `"dump_id" ${dumpId} differs from the ${keyMatch![1]} in the key`);

  const tablesJson = obj['tables'];
  if (!Array.isArray(tablesJson)) return fail('tables', '"tables" must be an array');
  let seenBucket = bucket;
  const names = new Set<string>();
  const tables = tablesJson.map((t: unknown, i): ManifestTable => {
    const where = `tables[${i}]`;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) return fail(where, `${where} must be an object`);
    const tobj = t as Record<string, unknown>;
    const name = tobj['name'];
    if (typeof name !== 'string' || name.length === 0) return fail(`${where}.name`, `${where}.name must be a non-empty string`);
    if (names.has(name)) fail(`${where}.name`, `table "${name}" is listed twice`);
    names.add(name);
    const incremental = tobj['incremental'];
    if (typeof incremental !== 'boolean') fail(`${where}.incremental`, `table "${name}": "incremental" must be true or false, got ${JSON.stringify(incremental)}`);
    const filesJson = tobj['files'];
    if (!Array.isArray(filesJson)) return fail(`${where}.files`, `table "${name}": "files" must be an array`);
    const columnsJson = tobj['columns'];
    const columns = Array.isArray(columnsJson) && columnsJson.every((c) => typeof c === 'string') ? (columnsJson as string[]) : undefined;
    const files = filesJson.map((f: unknown, j) => {
      const field = `${where}.files[${j}]`;
      if (typeof f !== 'string') return fail(field, `table "${name}": ${field} must be a string`);
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(f);
      if (!m) return fail(field, `table "${name}": ${JSON.stringify(f)} is not an s3://bucket/key URI`);
      const [, fileBucket, fileKey] = m as unknown as [string, string, string];
      if (seenBucket === undefined) seenBucket = fileBucket;
      else if (fileBucket !== seenBucket) fail(field, `table "${name}": ${f} is in bucket "${fileBucket}", outside the export's bucket "${seenBucket}"`);
      if (!isSafeKey(fileKey)) fail(field, `table "${name}": ${f} has a path that leaves the export root`);
      if (!fileKey.endsWith('.avro')) fail(field, `table "${name}": ${f} is not an .avro file`);
      return fileKey;
    });
    return { name, columns, files, incremental: incremental as boolean };
  });
  const pd = obj['property_definitions'];
  return { key, dumpId, tables, propertyDefinitions: typeof pd === 'string' ? pd : undefined, bucket: seenBucket };
}
