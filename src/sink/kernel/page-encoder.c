/*
 * heaplake's Parquet page encoder: one column chunk (a row group's rows of one flat column) laid
 * out by page-encoder.ts in this module's memory as Arrow lays a column out (validity bits from
 * bit 0, fixed-width values with a slot per row, or int32 offsets + bytes), encoded into the
 * bodies of Parquet v1 pages:
 *
 *   dict_build  the column's distinct values (a hash table), each non-null value's index
 *   dict_page   the dictionary page: the distinct values, PLAIN
 *   data_page   rows [from, to): definition levels (RLE, 4-byte length first), then the
 *               non-null values PLAIN or their dictionary indices (bit width byte + RLE/bit-packed)
 *   chunk_stats min and max of the non-null values, for the column chunk's statistics
 *
 * Compression, page headers and the footer are page-encoder.ts's and parquet-writer.ts's.
 * The encodings follow the Parquet format spec (Encodings.md: PLAIN, RLE/bit-packing hybrid,
 * RLE_DICTIONARY); test/parquet-writer.test.ts reads what it writes back with hyparquet,
 * parquet-wasm (the Rust reader) and DuckDB.
 *
 * Build: scripts/build-kernel.mjs (clang --target=wasm32); the module is committed as base64.
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint32_t u32;
typedef int32_t i32;
typedef uint64_t u64;
typedef int64_t i64;

#define AT(addr) ((u8 *)(uintptr_t)(addr))
#define U32(addr) ((u32 *)(uintptr_t)(addr))

enum { K_BOOL = 0, K_I32 = 1, K_I64 = 2, K_F32 = 3, K_F64 = 4, K_VAR = 5 };

static inline u32 width_of(u32 kind) { return kind == K_I64 || kind == K_F64 ? 8 : 4; }

static inline int bit(const u8 *bits, u32 i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static inline u64 load64(const u8 *p) {
  u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

static inline u32 load32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

/*
 * Copies n bits from src (starting at bit sbit) to dst (starting at bit dbit); src == 0 sets
 * them (a part without nulls). Used to join the validity of a row group's batches.
 */
__attribute__((export_name("copy_bits"))) void copy_bits(u32 dst, u32 dbit, u32 src, u32 sbit, u32 n) {
  u8 *d = AT(dst);
  const u8 *s = AT(src);
  u32 i = 0;
  /* whole bytes when both sides are byte-aligned */
  if (((dbit | sbit) & 7) == 0) {
    u8 *dd = d + (dbit >> 3);
    const u8 *ss = s + (sbit >> 3);
    u32 bytes = n >> 3;
    if (src == 0) __builtin_memset(dd, 0xff, bytes);
    else __builtin_memcpy(dd, ss, bytes);
    i = bytes << 3;
  }
  for (; i < n; i++) {
    u32 at = dbit + i;
    int v = src == 0 ? 1 : bit(s, sbit + i);
    if (v) d[at >> 3] |= (u8)(1 << (at & 7));
    else d[at >> 3] &= (u8)~(1 << (at & 7));
  }
}

/* Adds delta to n u32 words at p (a batch's string offsets, moved to where its bytes now start). */
__attribute__((export_name("add_u32"))) void add_u32(u32 p, u32 n, u32 delta) {
  u32 *w = U32(p);
  for (u32 i = 0; i < n; i++) w[i] += delta;
}

/*
 * Page boundaries of a string column: from row `from`, the end of a page of at most max_rows
 * rows and max_bytes bytes of values (at least one row), by binary search on the offsets.
 */
__attribute__((export_name("page_end"))) u32 page_end(u32 offsets, u32 n, u32 from, u32 max_rows, u32 max_bytes) {
  const u32 *off = U32(offsets);
  u32 hi = from + max_rows < n ? from + max_rows : n;
  if (off[hi] - off[from] <= max_bytes) return hi;
  u32 lo = from + 1; /* one row always fits */
  while (lo < hi) {
    u32 mid = lo + ((hi - lo + 1) >> 1);
    if (off[mid] - off[from] <= max_bytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* ---- the RLE / bit-packing hybrid (Encodings.md), over u32 values of `bw` bits ---- */

static u8 *varint(u8 *o, u32 v) {
  while (v >= 0x80) {
    *o++ = (u8)(v | 0x80);
    v >>= 7;
  }
  *o++ = (u8)v;
  return o;
}

/* Bit-packed groups are at most 63 per run, so a run's header is one byte (as parquet-mr writes). */
#define MAX_GROUPS 63

static u8 *hybrid(u8 *o, const u32 *v, u32 n, u32 bw) {
  u32 vbytes = (bw + 7) >> 3;
  u32 i = 0;
  while (i < n) {
    u32 r = 1;
    while (i + r < n && v[i + r] == v[i]) r++;
    if (r >= 8) {
      o = varint(o, r << 1);
      u32 x = v[i];
      for (u32 b = 0; b < vbytes; b++) *o++ = (u8)(x >> (8 * b));
      i += r;
      continue;
    }
    /* bit-packed groups of 8 until a run of 8 or more starts at a group boundary */
    u8 *header = o++;
    u32 groups = 0;
    while (i < n && groups < MAX_GROUPS) {
      u64 acc = 0;
      u32 have = 0;
      for (u32 k = 0; k < 8; k++) {
        u64 x = i + k < n ? v[i + k] : 0;
        acc |= x << have;
        have += bw;
        while (have >= 8) {
          *o++ = (u8)acc;
          acc >>= 8;
          have -= 8;
        }
      }
      i += 8;
      groups++;
      if (i < n) {
        u32 s = 1;
        while (s < 8 && i + s < n && v[i + s] == v[i]) s++;
        if (s >= 8) break;
      }
    }
    *header = (u8)((groups << 1) | 1);
  }
  return o;
}

/* ---- dictionaries ---- */

static inline u32 mix(u64 h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (u32)h;
}

static u32 hash_bytes(const u8 *p, u32 len) {
  u64 h = 0x9e3779b97f4a7c15ULL ^ len;
  u32 i = 0;
  for (; i + 8 <= len; i += 8) h = (h ^ load64(p + i)) * 0x100000001b3ULL + (h >> 29);
  u64 tail = 0;
  for (u32 k = 0; i + k < len; k++) tail |= (u64)p[i + k] << (8 * k);
  h = (h ^ tail) * 0x100000001b3ULL;
  return mix(h);
}

static int same_bytes(const u8 *a, const u8 *b, u32 len) {
  u32 i = 0;
  for (; i + 8 <= len; i += 8)
    if (load64(a + i) != load64(b + i)) return 0;
  for (; i < len; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/*
 * Assigns each non-null value of the n rows a dictionary index (idx, in row order) and lists
 * the distinct values in `entries` (fixed: the values; var: start and length u32 pairs into
 * `values`). `table` holds mask + 1 zeroed u32 slots (entry + 1). Returns the number of distinct
 * values, or -1 once there would be more than max_entries or their PLAIN bytes would pass
 * max_bytes (the caller then writes the chunk PLAIN).
 */
__attribute__((export_name("dict_build"))) i32 dict_build(u32 kind, u32 n, u32 valid, u32 values, u32 offsets, u32 idx, u32 table, u32 mask, u32 entries, u32 max_entries, u32 max_bytes) {
  const u8 *vb = AT(valid);
  const u8 *val = AT(values);
  const u32 *off = U32(offsets);
  u32 *ix = U32(idx);
  u32 *slots = U32(table);
  u32 distinct = 0, bytes = 0, k = 0;
  if (kind == K_VAR) {
    u32 *e = U32(entries);
    for (u32 r = 0; r < n; r++) {
      if (valid && !bit(vb, r)) continue;
      u32 start = off[r], len = off[r + 1] - start;
      const u8 *p = val + start;
      u32 s = hash_bytes(p, len) & mask;
      for (;;) {
        u32 got = slots[s];
        if (got == 0) {
          if (distinct == max_entries || bytes + 4 + len > max_bytes) return -1;
          e[2 * distinct] = start;
          e[2 * distinct + 1] = len;
          slots[s] = ++distinct;
          bytes += 4 + len;
          ix[k++] = distinct - 1;
          break;
        }
        u32 at = got - 1;
        if (e[2 * at + 1] == len && same_bytes(val + e[2 * at], p, len)) {
          ix[k++] = at;
          break;
        }
        s = (s + 1) & mask;
      }
    }
    return (i32)distinct;
  }
  u32 w = width_of(kind);
  for (u32 r = 0; r < n; r++) {
    if (valid && !bit(vb, r)) continue;
    u64 x = w == 8 ? load64(val + (u64)r * 8) : load32(val + (u64)r * 4);
    u32 s = mix(x) & mask;
    for (;;) {
      u32 got = slots[s];
      if (got == 0) {
        if (distinct == max_entries || bytes + w > max_bytes) return -1;
        if (w == 8) __builtin_memcpy(AT(entries) + (u64)distinct * 8, &x, 8);
        else {
          u32 y = (u32)x;
          __builtin_memcpy(AT(entries) + (u64)distinct * 4, &y, 4);
        }
        slots[s] = ++distinct;
        bytes += w;
        ix[k++] = distinct - 1;
        break;
      }
      u32 at = got - 1;
      u64 have = w == 8 ? load64(AT(entries) + (u64)at * 8) : load32(AT(entries) + (u64)at * 4);
      if (have == x) {
        ix[k++] = at;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  return (i32)distinct;
}

/* The dictionary page's body: the distinct values, PLAIN. Returns its length. */
__attribute__((export_name("dict_page"))) u32 dict_page(u32 kind, u32 distinct, u32 entries, u32 values, u32 out) {
  u8 *o = AT(out);
  if (kind == K_VAR) {
    const u32 *e = U32(entries);
    for (u32 d = 0; d < distinct; d++) {
      u32 len = e[2 * d + 1];
      __builtin_memcpy(o, &len, 4);
      __builtin_memcpy(o + 4, AT(values) + e[2 * d], len);
      o += 4 + len;
    }
    return (u32)(o - AT(out));
  }
  u32 bytes = distinct * width_of(kind);
  __builtin_memcpy(o, AT(entries), bytes);
  return bytes;
}

/*
 * One data page's body for rows [from, to): definition levels (max level 1: every lake column
 * is optional), then the non-null values, PLAIN (bw == 0) or as dictionary indices
 * idx[first ..] with bit width bw. `scratch` holds (to - from) u32. Returns the body's length;
 * the non-null count goes to U32(status)[0].
 */
__attribute__((export_name("data_page"))) u32 data_page(u32 kind, u32 from, u32 to, u32 valid, u32 values, u32 offsets, u32 idx, u32 first, u32 bw, u32 scratch, u32 out, u32 status) {
  const u8 *vb = AT(valid);
  u32 n = to - from;
  u32 *lv = U32(scratch);
  u32 present = 0;
  for (u32 i = 0; i < n; i++) {
    u32 v = valid ? (u32)bit(vb, from + i) : 1;
    lv[i] = v;
    present += v;
  }
  u8 *o = AT(out);
  u8 *levels = o + 4;
  u8 *end = hybrid(levels, lv, n, 1);
  u32 len = (u32)(end - levels);
  __builtin_memcpy(o, &len, 4);
  o = end;
  U32(status)[0] = present;
  if (bw > 0) {
    *o++ = (u8)bw;
    o = hybrid(o, U32(idx) + first, present, bw);
    return (u32)(o - AT(out));
  }
  const u8 *val = AT(values);
  if (kind == K_BOOL) {
    /* PLAIN booleans: bit-packed, LSB first */
    u32 k = 0;
    u8 acc = 0;
    for (u32 i = 0; i < n; i++) {
      if (!lv[i]) continue;
      acc |= (u8)(bit(val, from + i) << (k & 7));
      if ((++k & 7) == 0) {
        *o++ = acc;
        acc = 0;
      }
    }
    if (k & 7) *o++ = acc;
  } else if (kind == K_VAR) {
    const u32 *off = U32(offsets);
    for (u32 i = 0; i < n; i++) {
      if (!lv[i]) continue;
      u32 start = off[from + i], l = off[from + i + 1] - start;
      __builtin_memcpy(o, &l, 4);
      __builtin_memcpy(o + 4, val + start, l);
      o += 4 + l;
    }
  } else {
    u32 w = width_of(kind);
    if (present == n) {
      __builtin_memcpy(o, val + (u64)from * w, (u64)n * w);
      o += (u64)n * w;
    } else {
      for (u32 i = 0; i < n; i++) {
        if (!lv[i]) continue;
        __builtin_memcpy(o, val + (u64)(from + i) * w, w);
        o += w;
      }
    }
  }
  return (u32)(o - AT(out));
}

static inline u64 load64be(const u8 *p) { return __builtin_bswap64(load64(p)); }

/* a < b in unsigned byte order, eight bytes at a time */
static int less_bytes(const u8 *a, u32 al, const u8 *b, u32 bl) {
  u32 m = al < bl ? al : bl;
  u32 i = 0;
  for (; i + 8 <= m; i += 8) {
    u64 x = load64be(a + i), y = load64be(b + i);
    if (x != y) return x < y;
  }
  for (; i < m; i++)
    if (a[i] != b[i]) return a[i] < b[i];
  return al < bl;
}

/*
 * Min and max of the non-null values of n rows, in the column's sort order (signed integers,
 * floats without NaN, bytes unsigned). Written to status: word 0 = 1 when found; then for var
 * the min's start and length and the max's (words 1-4); for fixed the min and max as 8 bytes
 * each from word 2 (floats as doubles). Booleans: words 1 and 2 say whether false and true occur.
 * With `entries` (not 0) the n values are a dictionary's distinct values instead (dict_build's
 * entries, no nulls): the same answer from fewer values.
 */
__attribute__((export_name("chunk_stats"))) void chunk_stats(u32 kind, u32 n, u32 valid, u32 values, u32 offsets, u32 entries, u32 status) {
  const u8 *vb = AT(valid);
  const u8 *val = AT(values);
  u32 *st = U32(status);
  int found = 0;
  if (entries) {
    valid = 0;
    if (kind != K_VAR) val = AT(entries);
  }
  if (kind == K_VAR) {
    const u32 *off = U32(offsets);
    const u32 *e = U32(entries);
    u32 mins = 0, minl = 0, maxs = 0, maxl = 0;
    for (u32 r = 0; r < n; r++) {
      if (valid && !bit(vb, r)) continue;
      u32 s = entries ? e[2 * r] : off[r];
      u32 l = entries ? e[2 * r + 1] : off[r + 1] - s;
      if (!found) {
        mins = maxs = s;
        minl = maxl = l;
        found = 1;
        continue;
      }
      if (less_bytes(val + s, l, val + mins, minl)) mins = s, minl = l;
      else if (less_bytes(val + maxs, maxl, val + s, l)) maxs = s, maxl = l;
    }
    st[0] = (u32)found;
    st[1] = mins, st[2] = minl, st[3] = maxs, st[4] = maxl;
    return;
  }
  if (kind == K_BOOL) {
    u32 f = 0, t = 0;
    for (u32 r = 0; r < n; r++) {
      if (valid && !bit(vb, r)) continue;
      if (bit(val, r)) t = 1;
      else f = 1;
    }
    st[0] = f | t, st[1] = f, st[2] = t;
    return;
  }
  if (kind == K_I32 || kind == K_I64) {
    i64 mn = 0, mx = 0;
    for (u32 r = 0; r < n; r++) {
      if (valid && !bit(vb, r)) continue;
      i64 x = kind == K_I64 ? (i64)load64(val + (u64)r * 8) : (i64)(i32)load32(val + (u64)r * 4);
      if (!found) mn = mx = x, found = 1;
      else if (x < mn) mn = x;
      else if (x > mx) mx = x;
    }
    st[0] = (u32)found;
    __builtin_memcpy(st + 2, &mn, 8);
    __builtin_memcpy(st + 4, &mx, 8);
    return;
  }
  double mn = 0, mx = 0;
  for (u32 r = 0; r < n; r++) {
    if (valid && !bit(vb, r)) continue;
    double x;
    if (kind == K_F64) {
      u64 b = load64(val + (u64)r * 8);
      __builtin_memcpy(&x, &b, 8);
    } else {
      u32 b = load32(val + (u64)r * 4);
      float f;
      __builtin_memcpy(&f, &b, 4);
      x = f;
    }
    if (x != x) continue; /* NaN has no place in the order: left out, as the spec asks */
    if (!found) mn = mx = x, found = 1;
    else if (x < mn) mn = x;
    else if (x > mx) mx = x;
  }
  /* the spec's rule for zeros: a min of zero is written -0, a max of zero +0 */
  if (found && mn == 0) mn = -0.0;
  if (found && mx == 0) mx = 0.0;
  st[0] = (u32)found;
  __builtin_memcpy(st + 2, &mn, 8);
  __builtin_memcpy(st + 4, &mx, 8);
}
