/**
 * What heaplake knows about Heap's tables (../shared/docs/heap-connect-s3.md §3–4): keys,
 * which tables are event-like (have a `time` and are partitioned by its UTC date), which
 * columns are timestamps, and which names are safe as folder names.
 */
import { UsageError, ManifestError } from '../errors.js';

export const EVENT_METADATA = '_event_metadata';
export const STATE_DIR = '_heaplake';
export const STAGING_DIR = `${STATE_DIR}/staging`;

export type TableKind = 'users' | 'user_migrations' | 'event_metadata' | 'derived' | 'events';

/** Tables heaplake derives itself (identity resolution); never Heap's. */
export const DERIVED_TABLES: readonly string[] = ['user_identity', 'users_resolved'];

export function tableKind(name: string): TableKind {
  if (DERIVED_TABLES.includes(name)) return 'derived';
  if (name === 'users') return 'users';
  if (name === 'user_migrations') return 'user_migrations';
  if (name === EVENT_METADATA) return 'event_metadata';
  return 'events'; // pageviews, sessions and every defined event
}

/** The de-duplication key, or undefined for tables passed through without one. */
export function keyColumn(name: string): string | undefined {
  switch (tableKind(name)) {
    case 'users':
      return 'user_id';
    case 'user_migrations':
      return 'from_user_id';
    case 'event_metadata':
      return undefined;
    case 'derived':
      return name === 'users_resolved' ? 'resolved_user_id' : 'user_id';
    case 'events':
      return 'event_id';
  }
}

/** Event-like tables carry `time` (a string in S3) and are partitioned by its UTC date. */
export function isEventLike(name: string): boolean {
  return tableKind(name) === 'events';
}

/** Columns whose Avro `long` holds epoch microseconds (§3.3). */
export function microsColumns(name: string): readonly string[] {
  return tableKind(name) === 'users' ? ['joindate', 'last_modified'] : [];
}

/** Heap's own names can be odd (`_x__y_`, leading digits) but never a path: refuse those that are. */
export function checkTableName(name: string, manifestKey: string): void {
  const bad =
    name === STATE_DIR ||
    DERIVED_TABLES.includes(name) ||
    name === '.' ||
    name === '..' ||
    /[/\\\0]/.test(name) ||
    name.length > 200 ||
    name !== name.trim() ||
    [...name].some((ch) => ch.charCodeAt(0) < 0x20);
  if (bad) throw new ManifestError('MANIFEST', `manifest ${manifestKey}: table name ${JSON.stringify(name)} cannot be a folder of the lake (a path, or a name heaplake uses itself)`, { file: manifestKey, field: 'tables.name' });
}

/** `*` and `?` globs, anchored. */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map((p) => {
    if (p.length === 0) throw new UsageError('USAGE', 'an empty table pattern');
    return new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  });
  return (name) => res.some((re) => re.test(name));
}
