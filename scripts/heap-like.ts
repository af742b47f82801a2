/**
 * Deterministic Heap-like rows (shared by the fixture script and the benchmark generator):
 * the `pageviews` shape of a Heap Connect S3 export — 64-bit ids above 2^53, `time` as a
 * string, ~30 mostly-nullable string columns, a few typed custom properties — and `users`.
 * See shared/docs/heap-connect-s3.md for the real column list.
 */

/** mulberry32: a small seeded PRNG, so every run writes the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nullable = (type: unknown) => ({ type: ['null', type], default: null });

const STRING_COLUMNS = [
  'type', 'library', 'platform', 'device_type', 'country', 'region', 'city', 'ip', 'referrer', 'landing_page',
  'landing_page_query', 'landing_page_hash', 'browser', 'search_keyword', 'utm_source', 'utm_campaign', 'utm_medium',
  'utm_term', 'utm_content', 'domain', 'query', 'path', 'hash', 'title', 'href', 'target_text', 'app_name', 'app_version',
];

export const PAGEVIEWS_SCHEMA = {
  type: 'record',
  name: 'pageviews',
  namespace: 'heap',
  fields: [
    { name: 'event_id', type: 'long' },
    { name: 'user_id', type: 'long' },
    { name: 'session_id', type: 'long' },
    { name: 'time', type: 'string' },
    ...STRING_COLUMNS.map((name) => ({ name, ...nullable('string') })),
    { name: 'plan_tier', ...nullable('int') },
    { name: 'is_logged_in', ...nullable('boolean') },
    { name: 'cart_value', ...nullable('double') },
  ],
};

const WORDS = ['alpha', 'checkout', 'pricing', 'docs', 'search', 'blog', 'signup', 'login', 'cart', 'home', 'über', 'café', '東京', 'naïve'];
const COUNTRIES = ['United States', 'Germany', 'France', 'Japan', 'Brazil', 'India', 'Canada'];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** A 64-bit id above 2^53 (Heap ids use the whole range). */
function bigId(rand: () => number): bigint {
  return (1n << 53n) + (BigInt(Math.floor(rand() * 2 ** 31)) << 21n) + BigInt(Math.floor(rand() * 2 ** 21));
}

export function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `n` pageview rows; `duplicateEvery` repeats an earlier event_id now and then. */
export function* pageviews(n: number, seed: number, options: { duplicateEvery?: number; startMs?: number } = {}): Generator<Record<string, unknown>> {
  const rand = prng(seed);
  const start = options.startMs ?? Date.UTC(2026, 4, 1);
  const recent: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const dup = options.duplicateEvery && i > 0 && i % options.duplicateEvery === 0 && recent.length > 0;
    const eventId = dup ? recent[Math.floor(rand() * recent.length)]! : bigId(rand);
    if (!dup) {
      recent.push(eventId);
      if (recent.length > 1000) recent.shift();
    }
    const t = new Date(start + Math.floor(rand() * 86_400_000 * 3));
    const time = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}`;
    const row: Record<string, unknown> = {
      event_id: eventId,
      user_id: bigId(rand),
      session_id: bigId(rand),
      time,
    };
    for (const col of STRING_COLUMNS) {
      const r = rand();
      row[col] =
        r < 0.35
          ? null
          : col === 'country'
            ? pick(rand, COUNTRIES)
            : col === 'ip'
              ? `${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`
              : col.includes('page') || col === 'href' || col === 'referrer'
                ? `https://example.com/${pick(rand, WORDS)}/${pick(rand, WORDS)}?id=${Math.floor(rand() * 1e6)}`
                : `${pick(rand, WORDS)} ${pick(rand, WORDS)}`;
    }
    row['plan_tier'] = rand() < 0.5 ? null : Math.floor(rand() * 5);
    row['is_logged_in'] = rand() < 0.3 ? null : rand() < 0.5;
    row['cart_value'] = rand() < 0.6 ? null : Math.round(rand() * 100000) / 100;
    yield row;
  }
}

export const USERS_SCHEMA = {
  type: 'record',
  name: 'users',
  namespace: 'heap',
  fields: [
    { name: 'user_id', type: 'long' },
    { name: 'identity', ...nullable('string') },
    { name: 'handle', ...nullable('string') },
    { name: 'email', ...nullable('string') },
    { name: 'joindate', ...nullable({ type: 'long', logicalType: 'timestamp-micros' }) },
    { name: 'last_modified', ...nullable({ type: 'long', logicalType: 'timestamp-micros' }) },
    { name: 'plan', ...nullable('string') },
  ],
};

export function* users(n: number, seed: number): Generator<Record<string, unknown>> {
  const rand = prng(seed);
  for (let i = 0; i < n; i++) {
    const identified = rand() < 0.4;
    // µs since the epoch stay below 2^53 (avsc writes object-form longs with its number type)
    const join = (Date.UTC(2025, 0, 1) + Math.floor(rand() * 3e10)) * 1000;
    yield {
      user_id: bigId(rand),
      identity: identified ? `user${i}@example.com` : null,
      handle: identified ? `user${i}` : null,
      email: identified ? `user${i}@example.com` : null,
      joindate: join,
      last_modified: join + Math.floor(rand() * 1e12),
      plan: rand() < 0.5 ? null : pick(rand, ['free', 'pro', 'enterprise']),
    };
  }
}
