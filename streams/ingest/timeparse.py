"""Event times: ISO 8601, epoch numbers in s/ms/µs/ns, and the dates of syslog,
Apache, nginx and CEF, all to UTC epoch seconds.

Zone-less times are read in one configured zone (UTC by default). A time that is
unreadable, before 2000 or more than a day ahead of the observed time is never
shifted silently: the observed time is used and the event is flagged
(`sluice.ts_flag`, `sluice.original_ts`), or, with the "reject" policy, the record is
dead-lettered as `timestamp_out_of_range`.

Logs of one batch share a handful of distinct seconds, so the calendar arithmetic
is cached per second (ISO) or per hour (other formats) and the per-event cost is a
slice, a dict lookup and a float().
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.errors import DecodeError

# Event times further than this from the observed time are not trusted.
MAX_FUTURE_S = 24 * 3600.0
MIN_EPOCH_S = 946684800.0  # 2000-01-01
MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                      "Nov", "Dec"), start=1)}
_CACHE_LIMIT = 100_000


def epoch_seconds(value: float) -> float:
    """Epoch seconds from a number in s, ms, µs or ns, told apart by magnitude."""
    v = float(value)
    a = abs(v)
    if a >= 1e17:
        return v / 1e9
    if a >= 1e14:
        return v / 1e6
    if a >= 1e11:
        return v / 1e3
    return v


def _is_number_text(text: str) -> bool:
    body = text[1:] if text[:1] == "-" else text
    return body.replace(".", "", 1).isdigit()


def parse_time(value, tz: ZoneInfo | None = None) -> float:
    """UTC epoch seconds from ISO 8601 text (naive = `tz`, default UTC) or an epoch number."""
    if type(value) in (int, float):
        return epoch_seconds(value)
    if type(value) is not str or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if _is_number_text(text):
        return epoch_seconds(float(text))
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz or UTC)
    return dt.timestamp()


class TimeParser:
    """Timestamp parsing with one zone for zone-less times and one out-of-range policy."""

    def __init__(self, timezone: str = "UTC", reject_out_of_range: bool = False):
        self.tz = None if timezone in ("UTC", "Etc/UTC", "Z") else ZoneInfo(timezone)
        self.reject = reject_out_of_range
        self.iso_cache: dict[str, float] = {}
        self._hour: dict[tuple[int, int, int, int], float] = {}
        self._year: tuple[float, int] = (-1.0, 0)

    # -- zone-less calendar times -------------------------------------------------
    def local(self, year: int, month: int, day: int, hour: int, minute: int, second: float) -> float:
        """Epoch seconds of a zone-less calendar time read in the configured zone."""
        key = (year, month, day, hour)
        base = self._hour.get(key)
        if base is None:
            if not (0 <= hour <= 23):
                raise ValueError("hour out of range")
            if self.tz is None:
                base = float(calendar.timegm((year, month, day, hour, 0, 0)))
                datetime(year, month, day)  # validates the day of the month
            else:
                base = datetime(year, month, day, hour, tzinfo=self.tz).timestamp()
            if len(self._hour) > _CACHE_LIMIT:
                self._hour.clear()
            self._hour[key] = base
        if not (0 <= minute <= 59 and 0 <= second < 61):
            raise ValueError("minute or second out of range")
        return base + minute * 60 + second

    def iso(self, text: str) -> float:
        """ISO 8601 / RFC 3339 text. Fast path for `YYYY-MM-DD[T ]HH:MM:SS[.f][Z|±HH:MM]`."""
        if len(text) >= 19 and text[4] == "-" and text[7] == "-" and text[13] == ":" and text[16] == ":":
            key = text[:19]
            base = self.iso_cache.get(key)
            if base is None:
                base = self._iso_base(key)
            rest = text[19:]
            if not rest:
                return self._naive(base, key)
            if rest == "Z" or rest == "z":
                return base
            last = rest[-1]
            if rest[0] == "." and len(rest) > 1:
                if last in "Zz" and rest[1:-1].isdigit():
                    return base + float(rest[:-1])
                if rest[1:].isdigit():
                    return self._naive(base, key) + float(rest)
            if len(rest) >= 6 and rest[-3] == ":" and rest[-6] in "+-":
                frac = rest[:-6]
                if not frac or (frac[0] == "." and frac[1:].isdigit() and len(frac) > 1):
                    sign = 1 if rest[-6] == "+" else -1
                    offset = sign * (int(rest[-5:-3]) * 3600 + int(rest[-2:]) * 60)
                    return base - offset + (float(frac) if frac else 0.0)
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz or UTC)
        return dt.timestamp()

    def _iso_base(self, key: str) -> float:
        if key[10] not in "Tt ":
            raise ValueError(f"not ISO 8601: {key!r}")
        base = datetime.fromisoformat(key).replace(tzinfo=UTC).timestamp()
        if len(self.iso_cache) > _CACHE_LIMIT:
            self.iso_cache.clear()
        self.iso_cache[key] = base
        return base

    def _naive(self, utc_base: float, key: str) -> float:
        if self.tz is None:
            return utc_base
        return datetime.fromisoformat(key).replace(tzinfo=self.tz).timestamp()

    # -- syslog, Apache, nginx, CEF dates ----------------------------------------------
    def syslog_3164(self, month: str, day: int, hms: str, observed: float) -> float:
        """`Mmm dd hh:mm:ss` has no year: take the latest year that does not put the time
        more than a day ahead of the observed time (a day of clock skew is tolerated),
        so December lines read in January land in the previous year."""
        mon = MONTHS.get(month[:1].upper() + month[1:3].lower())
        if mon is None:
            raise ValueError(f"unknown month {month!r}")
        hour, minute, second = int(hms[0:2]), int(hms[3:5]), float(hms[6:])
        if self._year[0] != observed:
            self._year = (observed, datetime.fromtimestamp(observed, UTC).year)
        year = self._year[1]
        for y in range(year + 1, year - 8, -1):  # Feb 29 may need to go back to a leap year
            try:
                ts = self.local(y, mon, day, hour, minute, second)
            except ValueError:
                if mon == 2 and day == 29:
                    continue
                raise
            if ts <= observed + MAX_FUTURE_S:
                return ts
        raise ValueError(f"invalid date {month} {day}")

    def apache_access(self, text: str) -> float:
        """`10/Oct/2000:13:55:36 -0700` (the zone is always present)."""
        day, mon, rest = text.split("/", 2)
        year, hh, mm, ss_zone = rest.split(":", 3)
        ss, _, zone = ss_zone.partition(" ")
        month = MONTHS.get(mon)
        if month is None:
            raise ValueError(f"unknown month {mon!r}")
        base = float(calendar.timegm((int(year), month, int(day), int(hh), int(mm), 0))) + float(ss)
        if zone:
            sign = -1 if zone[0] == "-" else 1
            digits = zone.lstrip("+-").replace(":", "")
            base -= sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
        return base

    def ctime(self, text: str) -> float:
        """`Sun Dec 04 04:47:44 2005` or `Fri Sep 09 10:42:29.902022 2011` (Apache error log)."""
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"not a ctime date: {text!r}")
        month = MONTHS.get(parts[1])
        if month is None:
            raise ValueError(f"unknown month {parts[1]!r}")
        hms = parts[3]
        return self.local(int(parts[4]), month, int(parts[2]), int(hms[0:2]), int(hms[3:5]), float(hms[6:]))

    def slashed(self, date: str, hms: str) -> float:
        """`2024/05/01 12:00:00` (nginx error log)."""
        y, m, d = date.split("/")
        return self.local(int(y), int(m), int(d), int(hms[0:2]), int(hms[3:5]), float(hms[6:]))

    def cef(self, text: str) -> float:
        """CEF `rt`: epoch ms, `MMM dd yyyy HH:mm:ss[.SSS] [zone]`, `MMM dd HH:mm:ss`, or ISO."""
        text = text.strip()
        if text.isdigit():
            return epoch_seconds(float(text))
        parts = text.split()
        if len(parts) >= 4 and parts[0][:3].capitalize() in MONTHS and len(parts[2]) == 4:
            month = MONTHS[parts[0][:3].capitalize()]
            hms = parts[3]
            ts = self.local(int(parts[2]), month, int(parts[1]), int(hms[0:2]), int(hms[3:5]), float(hms[6:]))
            if len(parts) >= 5:
                ts = _rezone(ts, parts[4], self)
            return ts
        return self.iso(text)

    # -- policy --------------------------------------------------------------------
    def event_time(self, raw_value, observed: float, attributes: dict) -> float:
        """The event time, or the observed time with a flag when the given one is missing,
        unreadable, absurd or in the future. Never silently shifted."""
        if raw_value is None:
            return observed
        try:
            if type(raw_value) is str:
                text = raw_value.strip()
                ts = epoch_seconds(float(text)) if _is_number_text(text) else self.iso(text)
            elif type(raw_value) in (int, float):
                ts = epoch_seconds(raw_value)
            else:
                raise ValueError("not a timestamp")
        except (ValueError, OverflowError, OSError, IndexError):
            attributes["sluice.ts_flag"] = "unparsable"
            attributes["sluice.original_ts"] = str(raw_value)[:64]
            return observed
        return self.check(ts, observed, attributes, raw_value)

    def check(self, ts: float, observed: float, attributes: dict, raw_value=None) -> float:
        if MIN_EPOCH_S <= ts <= observed + MAX_FUTURE_S:
            return ts
        flag = "future" if ts > observed else "out_of_range"
        original = str(raw_value if raw_value is not None else ts)[:64]
        if self.reject:
            raise DecodeError("timestamp_out_of_range", f"event time {original!r} is {flag}")
        attributes["sluice.ts_flag"] = flag
        attributes["sluice.original_ts"] = original
        return observed


def _rezone(local_ts: float, zone: str, parser: TimeParser) -> float:
    """Re-read a time parsed in the configured zone as a time in `zone` (an IANA name or ±hhmm)."""
    naive = datetime.fromtimestamp(local_ts, parser.tz or UTC).replace(tzinfo=None)
    if zone[0] in "+-" and zone[1:].replace(":", "").isdigit():
        digits = zone[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return (naive - (delta if zone[0] == "+" else -delta)).replace(tzinfo=UTC).timestamp()
    if zone.upper() in ("UTC", "GMT", "Z"):
        return naive.replace(tzinfo=UTC).timestamp()
    try:
        return naive.replace(tzinfo=ZoneInfo(zone)).timestamp()
    except (KeyError, ValueError):
        return local_ts
