/// <reference types="vite/client" />
import { describe, expect, it, vi } from "vitest";

vi.mock("./bindings", async (original) => ({ ...(await original<typeof import("./bindings")>()), commands: {} }));
import { ApiError, toHearthError } from "./index";
import { ERROR_CODES } from "./bindings";

describe("toHearthError", () => {
  it("keeps a HearthError from a command as it is", () => {
    const e = { code: "PROBE_FAILED", message: "Could not read the hardware.", details: "x" };
    expect(toHearthError(e)).toEqual(e);
  });
  it("turns Tauri's plain-string rejections into INTERNAL with the string as details", () => {
    const e = toHearthError("command hardware_profile not found");
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toBe("Something went wrong inside Hearth.");
    expect(e.details).toBe("command hardware_profile not found");
  });
  it("is never asked about a code that does not exist: every code the window's own code names is one the Rust enum has", () => {
    // A typo, or a code renamed in Rust, would make the window's check silently never match (the
    // overflow warning would never show): the code is compared as a plain string.
    const sources = import.meta.glob(["../**/*.ts", "../**/*.svelte", "!../**/*.test.ts", "!./bindings.ts"], {
      query: "?raw",
      import: "default",
      eager: true,
    }) as Record<string, string>;
    const named = new Map<string, string>();
    for (const [file, text] of Object.entries(sources)) {
      for (const m of text.matchAll(/\bcode\s*(?:===|!==|==|:)\s*"([A-Z][A-Z_]*)"/g)) named.set(m[1], file);
    }
    // The checks the window is known to make are found, so this cannot pass by finding nothing.
    expect([...named.keys()]).toEqual(expect.arrayContaining(["WOULD_NOT_FIT", "HUB_UNREACHABLE", "INTERNAL"]));
    const known = new Set<string>(ERROR_CODES);
    const unknown = [...named].filter(([code]) => !known.has(code)).map(([code, file]) => `${code} in ${file}`);
    expect(unknown).toEqual([]);
  });
  it("does not trust an object with an unknown code", () => {
    expect(toHearthError({ code: "<script>", message: "hi" }).code).toBe("INTERNAL");
  });
  it("round-trips through ApiError", () => {
    const e = new ApiError({ code: "HOME_UNAVAILABLE", message: "No home.", details: null });
    expect(toHearthError(e)).toEqual({ code: "HOME_UNAVAILABLE", message: "No home.", details: null });
  });
});
