/**
 * `heaplake sql`: CREATE VIEW statements that give every event table (pageviews, sessions and
 * each defined event) a `resolved_user_id`, by joining it with `user_identity`. Raw tables keep
 * their raw `user_id`; the views do the resolution at query time, so a migration that arrives
 * after the events it affects is reflected as soon as `user_identity` is rebuilt.
 */
import { UsageError } from '../errors.js';
import type { LakeState } from '../commit/state.js';
import { isEventLike } from '../manifest/tables.js';

export const ENGINES = ['duckdb', 'athena', 'trino'] as const;
export type Engine = (typeof ENGINES)[number];

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * DuckDB reads the Parquet files of the lake at `location` (a folder or an s3:// URI);
 * Athena and Trino query the tables as registered in a catalog (`schema`, e.g. a Glue
 * database crawled over the lake), under the lake's table names.
 */
export function identityViews(state: LakeState, engine: Engine, options: { location?: string; schema?: string } = {}): string {
  if (!state.tables['user_identity']) {
    throw new UsageError('USAGE', 'the lake has no user_identity table: run "heaplake convert --resolve-identities" first');
  }
  const events = Object.keys(state.tables).filter((t) => isEventLike(t) && state.tables[t]!.columns.some((c) => c.name === 'user_id')).sort();
  const location = (options.location ?? '.').replace(/\/+$/, '');
  // a schema may be catalog-qualified (trino: hive.heap): quote each part
  const qualified = (name: string) => (options.schema ? `${options.schema.split('.').map(quote).join('.')}.${quote(name)}` : quote(name));
  const source = (table: string): string => {
    if (engine !== 'duckdb') return qualified(table);
    const glob = state.tables[table]!.partitioned ? `${location}/${table}/*/*.parquet` : `${location}/${table}/*.parquet`;
    return `read_parquet(${literal(glob)}${state.tables[table]!.partitioned ? ', hive_partitioning = true' : ''}, union_by_name = true)`;
  };
  const header = `-- heaplake: views with resolved_user_id for ${engine}${engine === 'duckdb' ? ` over ${location}` : ''}`;
  const statements = events.map(
    (t) =>
      `CREATE OR REPLACE VIEW ${qualified(`${t}_resolved`)} AS\n` +
      `SELECT e.*, COALESCE(i.resolved_user_id, e.user_id) AS resolved_user_id\n` +
      `FROM ${source(t)} AS e\n` +
      `LEFT JOIN ${source('user_identity')} AS i ON e.user_id = i.user_id;`,
  );
  return [header, ...statements].join('\n\n') + '\n';
}
