// Sizes as people read them. Binary gigabytes labelled "GB", as the CLI and most desktop apps show them.
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export function gb(bytes: number, digits = 1): string {
  if (bytes < GIB) return `${Math.round(bytes / MIB)} MB`;
  return `${(bytes / GIB).toFixed(digits)} GB`;
}

/** A 0-100 share, clamped, for bar widths. */
export function percent(part: number, whole: number): number {
  if (!(whole > 0)) return 0;
  return Math.min(100, Math.max(0, (part / whole) * 100));
}
