// Counts as people read them.
export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

export function params(n: number | null): string {
  if (!n) return "";
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${Math.round(n / 1e6)}M`;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return "";
  const days = Math.floor((now - Date.parse(iso)) / 86_400_000);
  if (!(days >= 0)) return "";
  if (days < 1) return "today";
  if (days < 30) return `${days} d ago`;
  if (days < 365) return `${Math.floor(days / 30)} mo ago`;
  return `${Math.floor(days / 365)} y ago`;
}

/** A predicted speed as the one figure Rust chose for it (`SpeedRange.expected`): "≈ 45 tok/s",
 * "≈ 2.5 tok/s", as `hearth` writes it too. */
export function tokPerSec(range: { expected: number } | null): string {
  if (!range) return "";
  const e = range.expected;
  return `≈ ${e >= 10 ? Math.round(e) : e.toFixed(1)} tok/s`;
}
