// MCP servers (tools): their states and tools, mcp.json as text for the editor, imports from the
// other apps, and the person's standing answers to tool calls. Rust owns them (the `mcp` crate);
// this keeps the last overview it sent.
import { api, toHearthError } from "$lib/api";
import type { HearthError, McpOverview } from "$lib/api";

export class McpStore {
  overview = $state<McpOverview | null>(null);
  error = $state<HearthError | null>(null);
  busy = $state(false);

  async refresh(): Promise<void> {
    await this.run(() => api.mcpOverview());
  }

  /** mcp.json as it is on disk, for the editor. */
  async text(): Promise<string> {
    try {
      return await api.mcpConfigText();
    } catch (e) {
      this.error = toHearthError(e);
      return "";
    }
  }

  /** Saves the editor's text (refused, with the line, when it does not read) and starts its servers. */
  async save(text: string): Promise<boolean> {
    return this.run(() => api.mcpSaveConfig(text));
  }

  async importFrom(path: string): Promise<boolean> {
    return this.run(() => api.mcpImport(path));
  }

  async restart(name: string): Promise<boolean> {
    return this.run(() => api.mcpRestart(name));
  }

  async setPermissions(readOnlyWithoutAsking: boolean, alwaysAllowed: [string, string][]): Promise<boolean> {
    return this.run(() => api.mcpSetPermissions(readOnlyWithoutAsking, alwaysAllowed));
  }

  private async run(f: () => Promise<McpOverview>): Promise<boolean> {
    this.busy = true;
    try {
      this.overview = await f();
      this.error = null;
      return true;
    } catch (e) {
      this.error = toHearthError(e);
      return false;
    } finally {
      this.busy = false;
    }
  }
}

export const mcp = new McpStore();
