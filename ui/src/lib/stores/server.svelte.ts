// The Server view: the server's status and settings, and its live request log (polled while the
// view is open: a local command, cheap).
import { api, toHearthError } from "$lib/api";
import type { HearthError, RequestLog, ServerSettings, ServerStatus } from "$lib/api";

export class ServerStore {
  status = $state<ServerStatus | null>(null);
  log = $state<RequestLog[]>([]);
  error = $state<HearthError | null>(null);
  busy = $state(false);

  get running(): boolean {
    return !!this.status?.baseUrl;
  }

  async refresh(): Promise<void> {
    try {
      this.status = await api.serverStatus();
      this.log = await api.serverLog();
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  watch(ms = 1000): () => void {
    void this.refresh();
    const t = setInterval(() => void this.refresh(), ms);
    return () => clearInterval(t);
  }

  async start(settings: ServerSettings): Promise<void> {
    await this.act(() => api.serverStart(settings));
  }

  async stop(): Promise<void> {
    await this.act(() => api.serverStop());
  }

  private async act(f: () => Promise<ServerStatus>): Promise<void> {
    this.busy = true;
    try {
      this.status = await f();
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
    } finally {
      this.busy = false;
    }
  }
}

export const server = new ServerStore();
