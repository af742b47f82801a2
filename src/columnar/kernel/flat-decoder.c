/*
 * heaplake's WebAssembly kernel: decodes Avro records whose fields are all flat (int, long,
 * float, double, boolean, string, bytes, enum, fixed, null, each optionally in a [null, T]
 * union) straight into Arrow column buffers in this module's memory.
 *
 * It only *detects* bad input: any invalid value makes `decode` return BAD, and the caller
 * decodes the same rows again with the JavaScript decoder (compile.ts), which names the
 * error, field and offset. So the checks here must accept exactly what compile.ts accepts;
 * test/differential.test.ts compares the two on valid, corrupted and truncated input.
 *
 * Build: scripts/build-kernel.mjs (clang --target=wasm32); the module is committed as base64.
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint32_t u32;
typedef int32_t i32;
typedef uint64_t u64;
typedef int64_t i64;

enum { K_NULL = 0, K_INT = 1, K_LONG = 2, K_FIXED = 3, K_BOOL = 4, K_VAR = 5, K_ENUM = 6, NULLABLE = 8 };

/* One column, laid out by flat-kernel.ts (ten little-endian u32 words). */
typedef struct {
  u32 op; /* a kind, | NULLABLE for a [null, T] union */
  i32 null_index; /* -1: not nullable; else the union branch that is null (0 or 1) */
  u32 values;     /* fixed: width * n bytes; bool: bits; var: n + 1 int32 offsets */
  u32 valid;      /* validity bitmap (bit set = valid), or 0 */
  u32 data;       /* var: value bytes */
  u32 data_cap;   /* var: capacity of data, bytes */
  u32 dn;         /* var: bytes used */
  u32 nulls;      /* nulls so far in this batch */
  u32 width;      /* fixed: bytes per value; enum: number of symbols */
  u32 mid_char;   /* var: set when a non-empty value starts with a UTF-8 continuation byte */
} Col;

/* Column buffers are addresses in this module's memory. */
#define AT(addr) ((u8 *)(uintptr_t)(addr))

#define BAD 0xffffffffu
#define ROOM 0xfffffffeu

static inline u64 load64(const u8 *p) {
  u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
static inline void store64(u8 *p, u64 v) { __builtin_memcpy(p, &v, 8); }

/* A zig-zag int of at most 5 bytes and 32 bits (varint.ts readIntInto). */
static inline u32 read_int(const u8 *b, u32 p, i32 *out) {
  u32 c = b[p];
  if (c < 0x80) {
    *out = (i32)((c >> 1) ^ -(c & 1));
    return p + 1;
  }
  u32 n = 0, shift = 0;
  do {
    c = b[p++];
    if (shift == 28 && (c & 0xf0)) return BAD;
    n |= (c & 0x7f) << shift;
    shift += 7;
  } while (c & 0x80);
  *out = (i32)((n >> 1) ^ -(n & 1));
  return p;
}

/* A zig-zag long of at most 10 bytes; the 10th may only carry bit 63 (varint.ts readLongInto). */
static inline u32 read_long(const u8 *b, u32 p, i64 *out) {
  u64 c = b[p];
  if (c < 0x80) {
    *out = (i64)((c >> 1) ^ -(c & 1));
    return p + 1;
  }
  u64 n = 0;
  u32 shift = 0;
  do {
    c = b[p++];
    if (shift == 63 && (c & 0x7e)) return BAD;
    n |= (c & 0x7f) << shift;
    shift += 7;
  } while ((c & 0x80) && shift < 70);
  if (c & 0x80) return BAD;
  *out = (i64)((n >> 1) ^ -(n & 1));
  return p;
}

/*
 * Row `ri` did not fit: undo what its first `upto` columns counted (nulls, string bytes) so
 * that the row can be decoded again once the caller has made room. Slots and validity bits
 * it wrote are simply written again.
 */
static void undo_row(Col *cols, u32 upto, u32 ri) {
  for (u32 g = 0; g < upto; g++) {
    Col *c = &cols[g];
    if (c->null_index >= 0 && !(*AT(c->valid + (ri >> 3)) & (1u << (ri & 7)))) c->nulls--;
    if ((c->op & ~NULLABLE) == K_VAR) c->dn = *(u32 *)AT(c->values + ri * 4);
  }
}

/* Reads a [null, T] union index; leaves `is_null` set, or returns BAD. */
#define UNION_INDEX(c)                                \
  {                                                   \
    i32 u = buf[p];                                   \
    if (u == 0 || u == 2) { /* one-byte 0 and 1 */    \
      u >>= 1;                                        \
      p++;                                            \
    } else {                                          \
      p = read_int(buf, p, &u);                       \
    }                                                 \
    if (p > end) return BAD;                          \
    if (u == (c)->null_index) is_null = 1;            \
    else if (u == 1 - (c)->null_index) is_null = 0;   \
    else return BAD;                                  \
  }

/* The [null, T] prefix of a value: on null, counts it, writes the slot's placeholder and goes
   to the next field; otherwise sets the validity bit and goes on to the value. */
#define NULL_OR_VALID(c, placeholder)                              \
  UNION_INDEX(c);                                                  \
  if (is_null) {                                                   \
    (c)->nulls++;                                                  \
    placeholder;                                                   \
    continue;                                                      \
  }                                                                \
  *AT((c)->valid + (ri >> 3)) |= (u8)(1u << (ri & 7));

/*
 * Decodes `rows` records from the block at `buf` (bytes [pos, end), with at least 64 readable
 * bytes after end) into the columns; row r goes to slot base + r. Returns the position after
 * the records, or BAD on invalid input, or ROOM when a string column's data region is full:
 * then room[0] = rows completed, room[1] = where the next row starts, room[2] = the column,
 * and that row's effects are undone.
 */
__attribute__((export_name("decode"))) u32 decode(Col *cols, u32 ncols, const u8 *buf, u32 pos, u32 end, u32 rows, u32 base, u32 *room) {
  u32 p = pos;
  for (u32 r = 0; r < rows; r++) {
    const u32 ri = base + r;
    const u32 row_start = p;
    for (u32 f = 0; f < ncols; f++) {
      Col *c = &cols[f];
      u32 is_null = 0;
      /* op: the kind, plus NULLABLE for a [null, T] union */
      switch (c->op) {
        case K_VAR | NULLABLE:
          NULL_OR_VALID(c, *(i32 *)AT(c->values + (ri + 1) * 4) = (i32)c->dn);
          /* fall through */
        case K_VAR: {
          u32 n = buf[p];
          if (n < 0x80 && !(n & 1)) { /* a one-byte, non-negative length */
            n >>= 1;
            p++;
            if (p > end || n > end - p) return BAD; /* the length byte itself may be past the end */
          } else {
            i64 len;
            p = read_long(buf, p, &len);
            if (p > end || len < 0 || len > (i64)(end - p)) return BAD;
            n = (u32)len;
          }
          const u32 d = c->dn;
          if (n + 32 > c->data_cap - d) {
            undo_row(cols, f, ri);
            room[0] = r;
            room[1] = row_start;
            room[2] = f;
            return ROOM;
          }
          u8 *dst = AT(c->data + d);
          const u8 *src = buf + p;
          if (n <= 16) {
            store64(dst, load64(src));
            store64(dst + 8, load64(src + 8));
          } else if (n <= 32) {
            store64(dst, load64(src));
            store64(dst + 8, load64(src + 8));
            store64(dst + 16, load64(src + 16));
            store64(dst + 24, load64(src + 24));
          } else if (n <= 64) {
            for (u32 k = 0; k < n; k += 8) store64(dst + k, load64(src + k));
          } else {
            __builtin_memcpy(dst, src, n);
          }
          /* valid UTF-8 over a column's bytes splits into valid values when none starts mid-character */
          c->mid_char |= (n != 0) & ((*src & 0xc0) == 0x80);
          p += n;
          c->dn = d + n;
          *(i32 *)AT(c->values + (ri + 1) * 4) = (i32)(d + n);
          continue; /* p <= end: the length was checked */
        }
        case K_LONG | NULLABLE:
          NULL_OR_VALID(c, *(i64 *)AT(c->values + ri * 8) = 0);
          /* fall through */
        case K_LONG: {
          i64 v;
          p = read_long(buf, p, &v);
          *(i64 *)AT(c->values + ri * 8) = v;
          break;
        }
        case K_INT | NULLABLE:
        case K_ENUM | NULLABLE:
          NULL_OR_VALID(c, *(i32 *)AT(c->values + ri * 4) = 0);
          /* fall through */
        case K_INT:
        case K_ENUM: {
          i32 v;
          p = read_int(buf, p, &v);
          if ((c->op & ~NULLABLE) == K_ENUM && (v < 0 || (u32)v >= c->width)) return BAD;
          *(i32 *)AT(c->values + ri * 4) = v;
          break;
        }
        case K_FIXED | NULLABLE:
          NULL_OR_VALID(c, __builtin_memset(AT(c->values + ri * c->width), 0, c->width));
          /* fall through */
        case K_FIXED: {
          const u32 w = c->width;
          if (p > end || w > end - p) return BAD;
          u8 *dst = AT(c->values + ri * w);
          if (w == 8) store64(dst, load64(buf + p));
          else if (w == 4) __builtin_memcpy(dst, buf + p, 4);
          else __builtin_memcpy(dst, buf + p, w);
          p += w;
          continue;
        }
        case K_BOOL | NULLABLE:
          NULL_OR_VALID(c, );
          /* fall through */
        case K_BOOL: {
          const u32 v = buf[p++];
          if (v == 1) *AT(c->values + (ri >> 3)) |= (u8)(1u << (ri & 7));
          else if (v != 0) return BAD;
          break;
        }
        case K_NULL | NULLABLE: /* not planned: [null, null] is not a nullable column */
        case K_NULL:
          continue;
        default:
          return BAD;
      }
      if (p > end) return BAD;
    }
  }
  return p;
}
