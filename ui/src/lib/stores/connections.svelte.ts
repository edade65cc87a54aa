// Connections: engines on other machines (a rented GPU's vLLM or llama.cpp server, another computer's
// `hearth serve`) and the models each one serves. Settings edits them; Chat's model picker and My
// Models list their models. Keys go to the backend once and never come back: a connection shows only
// where its key is kept and a hint of it.
import { api, toHearthError } from "$lib/api";
import type { Connection, ConnectionInput, HearthError, RemoteModel, RemoteModels } from "$lib/api";

export class ConnectionsStore {
  list = $state<Connection[]>([]);
  /** Each connection's models, or why they could not be listed, as last asked. */
  models = $state<RemoteModels[]>([]);
  checking = $state(false);
  saving = $state(false);
  error = $state<HearthError | null>(null);
  notice = $state<string | null>(null);

  /** The connections, then their models (each endpoint asked at once; a slow one delays the list). */
  async refresh(): Promise<void> {
    try {
      this.list = await api.connectionsList();
      this.checking = true;
      this.models = await api.remoteModels();
    } catch (e) {
      this.error = toHearthError(e);
    } finally {
      this.checking = false;
    }
  }

  /** Every model of every connection that answered, as Chat answers with it. */
  get remoteModels(): RemoteModel[] {
    return this.models.flatMap((r) => r.models.map((model) => remoteModel(r.connection, model)));
  }

  /** What `connection` answered when asked for its models. */
  status(id: string): RemoteModels | undefined {
    return this.models.find((r) => r.connection.id === id);
  }

  async save(input: ConnectionInput): Promise<boolean> {
    this.saving = true;
    this.error = null;
    this.notice = null;
    try {
      const saved = await api.connectionSave(input);
      await this.refresh();
      const answered = this.status(saved.id);
      this.notice = answered?.error
        ? `Saved ${saved.name}, but it did not answer: ${answered.error.message}`
        : `Saved ${saved.name}: ${answered?.models.length ?? 0} model${answered?.models.length === 1 ? "" : "s"}.`;
      return true;
    } catch (e) {
      this.error = toHearthError(e);
      return false;
    } finally {
      this.saving = false;
    }
  }

  async remove(c: Connection): Promise<void> {
    this.error = null;
    try {
      await api.connectionRemove(c.id);
      this.notice = `Removed ${c.name}.`;
      await this.refresh();
    } catch (e) {
      this.error = toHearthError(e);
    }
  }
}

/** `model` on `connection`, as Chat answers with it. */
export function remoteModel(connection: Connection, model: string): RemoteModel {
  return { connectionId: connection.id, connectionName: connection.name, baseUrl: connection.baseUrl, model };
}

export const connections = new ConnectionsStore();
