/**
 * Date operands of the date rule operators (`docs/evaluation.md` §5.2; the
 * normative text is the module documentation of `common/src/eval/date.rs`):
 * strict RFC 3339 `date-time` strings or epoch milliseconds, both reduced to
 * milliseconds since 1970-01-01T00:00:00Z.
 *
 * Deliberately not `Date.parse`, which accepts many other forms and differs
 * between engines.
 */

const MS_PER_DAY = 86_400_000;

/**
 * `YYYY-MM-DDTHH:MM:SS[.F+](Z|+HH:MM|-HH:MM)`: ASCII digits only (JavaScript's
 * `\d` without the `u` flag is `[0-9]`), fixed widths, `T`/`t` and `Z`/`z`.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    return isLeapYear(year) ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * A strict RFC 3339 timestamp as epoch milliseconds (sub-millisecond digits
 * truncated, which is the floor of the instant), or `undefined` for any
 * other string.
 */
export function dateMsFromString(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (m === null) {
    return undefined;
  }
  const [, y, mo, d, h, mi, se, fraction, zulu, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(se);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 60
  ) {
    return undefined;
  }
  const ms = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, "0"));
  let offset = 0;
  if (zulu === undefined) {
    const offsetHours = Number(oh);
    const offsetMinutes = Number(om);
    if (offsetHours > 23 || offsetMinutes > 59) {
      return undefined;
    }
    offset = (sign === "-" ? -1 : 1) * (offsetHours * 3_600_000 + offsetMinutes * 60_000);
  }
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1_000 +
    ms -
    offset
  );
}

/** A JSON number operand: epoch milliseconds as it is, if finite. */
export function dateMsFromNumber(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}
