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

/** A predicted speed range as one figure: "≈ 45 tok/s", "≈ 2.5 tok/s". */
export function tokPerSec(range: { low: number; high: number } | null): string {
  if (!range) return "";
  const mid = (range.low + range.high) / 2;
  return `≈ ${mid >= 10 ? Math.round(mid) : mid.toFixed(1)} tok/s`;
}
