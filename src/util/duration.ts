// Durations as the flags take them (--deadline, --cache-ttl, --older-than): `7d`, `12h`, `30m`,
// `45s`, `500ms`. A CLI helper of its own, so parsing options loads nothing else.

/** Milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
