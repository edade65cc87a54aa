import { describe, expect, it, vi } from "vitest";

vi.mock("./bindings", async (original) => ({ ...(await original<typeof import("./bindings")>()), commands: {} }));
import { ApiError, toHearthError } from "./index";

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
  it("knows every code the Rust enum has, the newest included", () => {
    const e = { code: "NO_MODEL_LOADED", message: "Load a model first.", details: null };
    expect(toHearthError(e)).toEqual(e);
  });
  it("does not trust an object with an unknown code", () => {
    expect(toHearthError({ code: "<script>", message: "hi" }).code).toBe("INTERNAL");
  });
  it("round-trips through ApiError", () => {
    const e = new ApiError({ code: "HOME_UNAVAILABLE", message: "No home.", details: null });
    expect(toHearthError(e)).toEqual({ code: "HOME_UNAVAILABLE", message: "No home.", details: null });
  });
});
