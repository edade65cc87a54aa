import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { DownloadItem } from "$lib/api";

const calls = vi.hoisted(() => ({ list: vi.fn(), watch: vi.fn(), pause: vi.fn(), resume: vi.fn(), cancel: vi.fn(), start: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: { downloadsList: calls.list, downloadsWatch: calls.watch, downloadPause: calls.pause, downloadResume: calls.resume, downloadCancel: calls.cancel, downloadModel: calls.start },
  };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import DownloadsView from "./DownloadsView.svelte";
import { DownloadsStore } from "$lib/stores/downloads.svelte";

const GIB = 1024 ** 3;
const item = (over: Partial<DownloadItem>): DownloadItem => ({
  id: 1, repo: "org/M-GGUF", file: "M-Q4_K_M.gguf", state: "running", doneBytes: 1 * GIB, totalBytes: 4 * GIB, bytesPerSecond: 50 * 1024 ** 2, error: null, ...over,
});

afterEach(cleanup);

describe("DownloadsView", () => {
  it("follows the list the backend pushes, with no timer, until it stops following", async () => {
    let push: (items: DownloadItem[]) => void = () => {};
    calls.watch.mockImplementation((on: (items: DownloadItem[]) => void) => {
      push = on;
      return new Promise(() => {});
    });
    const store = new DownloadsStore();
    const stop = store.follow();
    render(DownloadsView, { store });
    push([item({ doneBytes: 2 * GIB })]);
    await waitFor(() => expect(screen.getByTestId("download-progress").textContent).toBe("2.0 GB of 4.0 GB · 50 %"));
    push([item({ doneBytes: 3 * GIB })]);
    await waitFor(() => expect(screen.getByTestId("download-progress").textContent).toBe("3.0 GB of 4.0 GB · 75 %"));
    expect(calls.list).not.toHaveBeenCalled();
    stop();
    push([item({ doneBytes: 4 * GIB, state: "done" })]);
    expect(store.items[0].doneBytes).toBe(3 * GIB);
  });

  it("shows progress, speed and time left, and pauses", async () => {
    calls.list.mockResolvedValue([item({})]);
    const store = new DownloadsStore();
    await store.refresh();
    render(DownloadsView, { store });
    expect(screen.getByTestId("download-progress").textContent).toBe("1.0 GB of 4.0 GB · 25 %");
    expect(screen.getByText(/50 MB\/s · 1 min 1 s left/)).toBeTruthy();
    expect(store.active).toBe(1);
    calls.list.mockResolvedValue([item({ state: "paused", bytesPerSecond: 0 })]);
    await fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect(calls.pause).toHaveBeenCalledWith(1);
    await waitFor(() => expect(screen.getByRole("button", { name: "Resume" })).toBeTruthy());
    expect(store.active).toBe(0);
  });

  it("shows a finished download as verified, full, with a way to My Models", async () => {
    calls.list.mockResolvedValue([item({ state: "done", doneBytes: 4 * GIB, bytesPerSecond: 0 })]);
    const store = new DownloadsStore();
    await store.refresh();
    const onshow = vi.fn();
    render(DownloadsView, { store, onshow });
    expect(screen.getByTestId("download-progress").textContent).toBe("4.0 GB · size and sha256 verified");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Show in My Models" }));
    expect(onshow).toHaveBeenCalled();
  });

  it("asks before deleting a partial file, and shows a failure with a retry", async () => {
    calls.list.mockResolvedValue([item({ state: "failed", error: "The downloaded file is damaged: expected sha256 ab, got cd; it was deleted" })]);
    const store = new DownloadsStore();
    await store.refresh();
    render(DownloadsView, { store });
    expect(screen.getByText(/it was deleted/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Retry" })).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(calls.cancel).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByRole("button", { name: "Delete the partial file" }));
    expect(calls.cancel).toHaveBeenCalledWith(1);
  });
});
