/*
 * heaplake's scatter kernel: copies one column of a group of batches into per-bucket columns,
 * the map task's shuffle (src/shuffle/map-task.ts). Every row of every batch goes to exactly one
 * bucket; bucket k's rows are, batch after batch, order_b[start_b[k] .. start_b[k+1]).
 *
 * Values keep their type (the map copies, it never converts): fixed-width values (a null's
 * bytes come along, as gather.ts does), bit-packed booleans, and offsets + bytes for strings
 * and binary (a null adds no bytes). Outputs are laid out bucket after bucket; the caller
 * (scatter.ts) gives every bucket's first row, and gets every bucket's null count and, for
 * strings, where its bytes start. test/scatter.test.ts checks it against gather.ts.
 *
 * Build: scripts/build-kernel.mjs (clang --target=wasm32); the module is committed as base64.
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;

#define AT(addr) ((u8 *)(uintptr_t)(addr))
#define U32(addr) ((u32 *)(uintptr_t)(addr))

enum { S_FIXED = 0, S_BOOL = 1, S_VAR = 2 };

/* One source batch's column, laid out by scatter.ts (eight little-endian u32 words). */
typedef struct {
  u32 values;  /* fixed: width * rows bytes; bool: bits; var: bytes */
  u32 offsets; /* var: rows + 1 int32 offsets */
  u32 valid;   /* validity bits, or 0 when every value is there */
  u32 bit;     /* the bit where the batch's validity (and bool values) start */
  u32 order;   /* the batch's rows grouped by bucket (int32) */
  u32 start;   /* buckets + 1 int32 bounds into order */
  u32 pad0, pad1;
} Source;

/* Output, for all buckets: first[k] = bucket k's first output row (first[B] = total rows). */
typedef struct {
  u32 values;   /* fixed: width * total; var: bytes (capacity: the sources' total) */
  u32 offsets;  /* var: (total + B) int32: bucket k's n_k + 1 offsets from first[k] + k, each from 0 */
  u32 valid;    /* per bucket, byte-aligned: bucket k's bits from byte vfirst[k] */
  u32 bits;     /* bool values, laid out as `valid` */
  u32 first;    /* B + 1 u32 */
  u32 vfirst;   /* B + 1 u32: byte where bucket k's validity (and bool bits) start */
  u32 nulls;    /* B u32, written */
  u32 dfirst;   /* var: B + 1 u32, written: where bucket k's bytes start in `values` */
} Output;

static inline int is_set(u32 bits, u32 i) { return (AT(bits)[i >> 3] >> (i & 7)) & 1; }

static inline u64 load64(const u8 *p) {
  u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
static inline void store64(u8 *p, u64 v) { __builtin_memcpy(p, &v, 8); }

__attribute__((export_name("scatter"))) void scatter(u32 kind, u32 width, const Source *src, u32 nsrc, u32 buckets, const Output *out) {
  u32 *nulls = U32(out->nulls);
  u32 *vfirst = U32(out->vfirst);
  u32 d = 0; /* var: bytes written */
  for (u32 k = 0; k < buckets; k++) {
    u32 i = 0; /* row within the bucket */
    u32 missing = 0;
    const u32 row0 = U32(out->first)[k];
    u8 *valid = AT(out->valid + vfirst[k]);
    int32_t *offsets = (int32_t *)AT(out->offsets + (row0 + k) * 4);
    const u32 d0 = d;
    if (kind == S_VAR) {
      U32(out->dfirst)[k] = d0;
      offsets[0] = 0;
    }
    for (u32 b = 0; b < nsrc; b++) {
      const Source *s = &src[b];
      const int32_t *order = (const int32_t *)AT(s->order);
      const u32 from = (u32)((const int32_t *)AT(s->start))[k], to = (u32)((const int32_t *)AT(s->start))[k + 1];
      for (u32 j = from; j < to; j++, i++) {
        const u32 r = (u32)order[j];
        const int ok = s->valid == 0 || is_set(s->valid, s->bit + r);
        if (ok) valid[i >> 3] |= (u8)(1u << (i & 7));
        else missing++;
        switch (kind) {
          case S_FIXED: {
            u8 *dst = AT(out->values + (row0 + i) * width);
            const u8 *from_ = AT(s->values + r * width);
            if (width == 8) store64(dst, load64(from_));
            else if (width == 4) __builtin_memcpy(dst, from_, 4);
            else __builtin_memcpy(dst, from_, width);
            break;
          }
          case S_BOOL:
            if (ok && is_set(s->values, s->bit + r)) AT(out->bits + vfirst[k])[i >> 3] |= (u8)(1u << (i & 7));
            break;
          case S_VAR: {
            if (ok) {
              const int32_t *o = (const int32_t *)AT(s->offsets);
              const u32 a = (u32)o[r], n = (u32)o[r + 1] - a;
              u8 *dst = AT(out->values + d);
              const u8 *from_ = AT(s->values + a);
              if (n <= 16) {
                /* the regions have 16 bytes of slack: two 8-byte moves, the excess overwritten next */
                store64(dst, load64(from_));
                store64(dst + 8, load64(from_ + 8));
              } else {
                __builtin_memcpy(dst, from_, n);
              }
              d += n;
            }
            offsets[i + 1] = (int32_t)(d - d0);
            break;
          }
        }
      }
    }
    nulls[k] = missing;
  }
  if (kind == S_VAR) U32(out->dfirst)[buckets] = d;
}
