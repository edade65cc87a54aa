// The Hardware view's state: the profile (read once) and the memory figures that move, refreshed on a
// timer only while the view is open.
import { api, toHearthError } from "$lib/api";
import type { HardwareProfile, HearthError, MemoryInfo } from "$lib/api";

export class HardwareStore {
  profile = $state<HardwareProfile | null>(null);
  memory = $state<MemoryInfo | null>(null);
  gpuFree = $state<(number | null)[]>([]);
  error = $state<HearthError | null>(null);
  loading = $state(false);

  async load(): Promise<void> {
    this.loading = true;
    try {
      const profile = await api.hardwareProfile();
      this.profile = profile;
      this.memory = profile.memory;
      this.gpuFree = profile.gpus.map((g) => g.vramFreeBytes);
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
    } finally {
      this.loading = false;
    }
  }

  async refreshMemory(): Promise<void> {
    if (!this.profile) return;
    try {
      const now = await api.memoryNow();
      this.memory = now.memory;
      this.gpuFree = now.gpuFreeBytes;
    } catch {
      // A missed refresh is not worth an error banner; the next tick tries again.
    }
  }

  /** Refresh every `ms` until the returned function is called (when the view closes). */
  watch(ms = 2000): () => void {
    const timer = setInterval(() => void this.refreshMemory(), ms);
    return () => clearInterval(timer);
  }
}

/** The profile for views that only need to know the GPUs (Settings, the model picker): the backend
 * probes once per run, so loading it again is cheap. */
export const hardware = new HardwareStore();
