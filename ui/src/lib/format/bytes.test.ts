import { describe, expect, it } from "vitest";
import { gb, percent } from "./bytes";

describe("gb", () => {
  it("shows binary gigabytes with one decimal, like the CLI", () => {
    expect(gb(24 * 1024 ** 3)).toBe("24.0 GB");
    expect(gb(1.5 * 1024 ** 3)).toBe("1.5 GB");
  });
  it("falls back to megabytes below a gigabyte", () => {
    expect(gb(512 * 1024 ** 2)).toBe("512 MB");
  });
});

describe("percent", () => {
  it("clamps and survives a zero total", () => {
    expect(percent(5, 10)).toBe(50);
    expect(percent(20, 10)).toBe(100);
    expect(percent(1, 0)).toBe(0);
  });
});
