/**
 * Heap's `time` strings → microseconds since the epoch, UTC. The S3 format is not documented
 * (../shared/docs/heap-connect-s3.md §3.3), so parsing is lenient:
 *
 *   YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH[:MM]]   (no zone means UTC)
 *   YYYY-MM-DD                                          (midnight UTC)
 *
 * Fractions keep up to 6 digits (microseconds); more are truncated toward the past. Parsing
 * works on the UTF-8 bytes, with no JS string or Date per value. Returns NaN when the text is
 * not a timestamp (the caller keeps the row and counts it).
 */

const DIGIT0 = 0x30;

function num(b: Uint8Array, from: number, len: number): number {
  let v = 0;
  for (let i = from; i < from + len; i++) {
    const d = b[i]! - DIGIT0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Microseconds since the epoch for the text in `b[from, to)`, or NaN. */
export function parseTimeMicros(b: Uint8Array, from: number, to: number): number {
  // trim spaces
  while (from < to && b[from] === 0x20) from++;
  while (to > from && b[to - 1] === 0x20) to--;
  const len = to - from;
  if (len < 10 || b[from + 4] !== 0x2d || b[from + 7] !== 0x2d) return NaN;
  const y = num(b, from, 4);
  const mo = num(b, from + 5, 2);
  const d = num(b, from + 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1]!) return NaN;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return NaN;
  let days = daysFromCivil(y, mo, d);
  if (len === 10) return days * 86_400_000_000;
  let p = from + 10;
  const sep = b[p];
  if (sep !== 0x54 && sep !== 0x20 && sep !== 0x74) return NaN; // 'T', ' ', 't'
  p++;
  if (to - p < 5 || b[p + 2] !== 0x3a) return NaN;
  const hh = num(b, p, 2);
  const mm = num(b, p + 3, 2);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return NaN;
  p += 5;
  let ss = 0;
  let micros = 0;
  if (p < to && b[p] === 0x3a) {
    ss = num(b, p + 1, 2);
    if (ss < 0 || ss > 60) return NaN; // 60: a leap second, folded into the next minute
    p += 3;
    if (p < to && (b[p] === 0x2e || b[p] === 0x2c)) {
      p++;
      let digits = 0;
      while (p < to && b[p]! >= 0x30 && b[p]! <= 0x39) {
        if (digits < 6) micros = micros * 10 + (b[p]! - DIGIT0);
        digits++;
        p++;
      }
      if (digits === 0) return NaN;
      for (let k = digits; k < 6; k++) micros *= 10;
    }
  }
  let offsetMinutes = 0;
  if (p < to) {
    const z = b[p]!;
    if ((z === 0x5a || z === 0x7a) && p + 1 === to) {
      p++;
    } else if (z === 0x2b || z === 0x2d) {
      const oh = num(b, p + 1, 2);
      let om = 0;
      let q = p + 3;
      if (q < to && b[q] === 0x3a) q++;
      if (q < to) {
        om = num(b, q, 2);
        q += 2;
      }
      if (oh < 0 || oh > 23 || om < 0 || om > 59 || q !== to) return NaN;
      offsetMinutes = (z === 0x2b ? 1 : -1) * (oh * 60 + om);
      p = to;
    } else if (z === 0x20 && to - p === 4 && b[p + 1] === 0x55 && b[p + 2] === 0x54 && b[p + 3] === 0x43) {
      p = to; // " UTC"
    } else {
      return NaN;
    }
  }
  const seconds = hh * 3600 + (mm - offsetMinutes) * 60 + ss;
  days += Math.floor(seconds / 86400);
  const result = days * 86_400_000_000 + (seconds - Math.floor(seconds / 86400) * 86400) * 1_000_000 + micros;
  // exact only within ±2^53 µs (years 1685–2255): beyond that, report instead of rounding
  return Number.isSafeInteger(result) ? result : NaN;
}
