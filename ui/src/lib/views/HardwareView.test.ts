import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";
import type { HardwareProfile } from "$lib/api";

const GIB = 1024 ** 3;
const calls = vi.hoisted(() => ({ profile: vi.fn(), memory: vi.fn() }));

vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: { hardwareProfile: calls.profile, memoryNow: calls.memory },
  };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import HardwareView from "./HardwareView.svelte";

function profile(over: Partial<HardwareProfile> = {}): HardwareProfile {
  return {
    os: { name: "Debian GNU/Linux", version: "12", arch: "x86_64" },
    cpu: {
      brand: "AMD EPYC 7B13",
      physicalCores: 2,
      logicalCores: 2,
      features: { avx: true, avx2: true, avx512: false, fma: true, f16c: true, neon: false },
    },
    memory: { totalBytes: 24 * GIB, availableBytes: 20 * GIB },
    gpus: [],
    disk: {
      modelsDir: "/home/me/.local/share/hearth/models",
      mountPoint: "/",
      fileSystem: "ext4",
      kind: "ssd",
      totalBytes: 250 * GIB,
      freeBytes: 80 * GIB,
    },
    engineBackends: ["CPU"],
    engineCpuVariant: "haswell",
    engineCpuVariantsAvoided: [],
    ramBandwidthGbps: 21.5,
    speedCalibration: null,
    summary: "No GPU: models run on the CPU from RAM; small models (up to about 8B at Q4) are practical.",
    probeMs: 42,
    ...over,
  };
}

afterEach(cleanup);

beforeEach(() => {
  calls.profile.mockReset();
  calls.memory.mockReset();
});

describe("HardwareView", () => {
  it("shows the CPU, RAM, the sentence and says plainly that there is no GPU", async () => {
    calls.profile.mockResolvedValue(profile());
    render(HardwareView, { refreshMs: 60_000 });
    expect(await screen.findByTestId("cpu-brand")).toHaveProperty("textContent", "AMD EPYC 7B13");
    expect(screen.getByTestId("ram-total").textContent).toBe("24.0 GB");
    expect(screen.getByTestId("summary").textContent).toContain("No GPU");
    expect(screen.getByTestId("gpu-name").textContent).toBe("No GPU");
    expect(screen.getByText("AVX2")).toBeTruthy();
    expect(screen.queryByTestId("cpu-variants-avoided")).toBeNull();
  });

  it("says which CPU backend builds were left out because they trapped on this processor", async () => {
    calls.profile.mockResolvedValue(profile({ engineCpuVariant: "icelake", engineCpuVariantsAvoided: ["sapphirerapids"] }));
    render(HardwareView, { refreshMs: 60_000 });
    const note = await screen.findByTestId("cpu-variants-avoided");
    expect(note.textContent).toContain("sapphirerapids left out");
    expect(note.textContent).toContain("illegal instruction");
    expect(screen.getByText("CPU backend: icelake")).toBeTruthy();
  });

  it("marks a GPU the engine cannot use with why and what to install, and shows a VRAM bar for one it can", async () => {
    calls.profile.mockResolvedValue(
      profile({
        gpus: [
          {
            name: "NVIDIA GeForce RTX 4090",
            vendor: "nvidia",
            kind: "discrete",
            engineBackend: "CUDA",
            engineDevice: "CUDA0",
            engineMissing: null,
            apis: ["Vulkan"],
            vramTotalBytes: 24 * GIB,
            vramFreeBytes: 20 * GIB,
            unifiedMemory: false,
            bandwidthGbps: 1008,
            sources: ["engine", "wgpu", "os"],
          },
          {
            name: "UHD Graphics 620",
            vendor: "intel",
            kind: "integrated",
            engineBackend: null,
            engineDevice: null,
            engineMissing: "The engine's Vulkan backend does not see this GPU. Install Mesa's Vulkan driver (ANV).",
            apis: ["Vulkan"],
            vramTotalBytes: null,
            vramFreeBytes: null,
            unifiedMemory: true,
            bandwidthGbps: null,
            sources: ["wgpu", "os"],
          },
        ],
      }),
    );
    render(HardwareView, { refreshMs: 60_000 });
    const names = await screen.findAllByTestId("gpu-name");
    expect(names.map((n) => n.textContent)).toEqual(["NVIDIA GeForce RTX 4090", "UHD Graphics 620"]);
    expect(screen.getByText("Runs models · CUDA")).toBeTruthy();
    expect(screen.getByText("Engine cannot use it")).toBeTruthy();
    expect(screen.getByTestId("gpu-missing").textContent).toContain("Install Mesa's Vulkan driver");
    expect(screen.getByText("CPU backend: haswell")).toBeTruthy();
    expect(screen.getByText("Shares system memory with the CPU")).toBeTruthy();
  });

  it("refreshes free memory while open", async () => {
    calls.profile.mockResolvedValue(profile());
    calls.memory.mockResolvedValue({ memory: { totalBytes: 24 * GIB, availableBytes: 4 * GIB }, gpuFreeBytes: [] });
    render(HardwareView, { refreshMs: 20 });
    await waitFor(() => expect(calls.memory).toHaveBeenCalled());
    await waitFor(() => expect(screen.getByTestId("ram-bar").textContent).toContain("20.0 GB in use"));
  });

  it("shows a failed probe as a sentence with a way to retry, not a stack trace", async () => {
    calls.profile.mockRejectedValue({ code: "PROBE_FAILED", message: "Hearth could not read this machine's hardware.", details: "panic at x.rs:1" });
    render(HardwareView, { refreshMs: 60_000 });
    const alert = await screen.findByTestId("hardware-error");
    expect(alert.textContent).toContain("could not read this machine's hardware");
    expect(alert.textContent).not.toContain("x.rs");
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
