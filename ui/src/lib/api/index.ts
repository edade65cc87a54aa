// The only module that talks to Tauri. Views and stores import `api` from here, never
// `@tauri-apps/api` and never the generated bindings' `commands` directly, so every rejection reaches
// them as one shape: an `ApiError` carrying `{code, message, details}`.
import { Channel } from "@tauri-apps/api/core";
import { commands, ERROR_CODES } from "./bindings";
import type {
  ChatEvent,
  ChatModel,
  ConnectionInput,
  ConversationSettings,
  DownloadItem,
  HearthError,
  HubSort,
  LoadEvent,
  PlannedFile,
  RemoteModel,
  RunOnSettings,
  ServerSettings,
  SettingsChange,
  ToolDecision,
  WhatIf,
} from "./bindings";

export type * from "./bindings";

export class ApiError extends Error {
  readonly code: HearthError["code"];
  readonly details: string | null;

  constructor(e: HearthError) {
    super(e.message);
    this.name = "ApiError";
    this.code = e.code;
    this.details = e.details;
  }
}

// Generated from the Rust enum with the bindings, so no code is missing here.
const CODES = new Set<string>(ERROR_CODES);

/** Whatever a command rejected with, as a `HearthError`. Tauri itself rejects with plain strings
 * (unknown command, bad argument); those become INTERNAL with the string kept as details. */
export function toHearthError(e: unknown): HearthError {
  if (e instanceof ApiError) return { code: e.code, message: e.message, details: e.details };
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; details?: unknown };
    if (typeof o.code === "string" && CODES.has(o.code) && typeof o.message === "string") {
      return {
        code: o.code as HearthError["code"],
        message: o.message,
        details: typeof o.details === "string" ? o.details : null,
      };
    }
  }
  const details = e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e);
  return { code: "INTERNAL", message: "Something went wrong inside Hearth.", details: details ?? null };
}

async function call<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (e) {
    throw new ApiError(toHearthError(e));
  }
}

export const api = {
  windowReady: () => call(commands.windowReady()),
  openLink: (url: string) => call(commands.openLink(url)),
  hardwareProfile: () => call(commands.hardwareProfile()),
  memoryNow: () => call(commands.memoryNow()),
  whatFits: (whatIf: WhatIf | null) => call(commands.whatFits(whatIf)),
  gpuCatalog: () => call(commands.gpuCatalog()),
  hubSearch: (query: string, sort: HubSort) => call(commands.hubSearch(query, sort)),
  hubSearchNext: (url: string) => call(commands.hubSearchNext(url)),
  hubModel: (repo: string) => call(commands.hubModel(repo)),
  hubFileFit: (repo: string, file: string, projectors: string[]) => call(commands.hubFileFit(repo, file, projectors)),
  hubRecommend: (files: PlannedFile[]) => commands.hubRecommend(files),
  downloadModel: (repo: string, file: string) => call(commands.downloadModel(repo, file)),
  downloadsList: () => call(commands.downloadsList()),
  downloadsWatch: (on: (items: DownloadItem[]) => void) => call(commands.downloadsWatch(channel(on))),
  downloadPause: (id: number) => call(commands.downloadPause(id)),
  downloadResume: (id: number) => call(commands.downloadResume(id)),
  downloadCancel: (id: number) => call(commands.downloadCancel(id)),
  modelsList: () => call(commands.modelsList()),
  modelSetRunOn: (path: string, run: RunOnSettings | null) => call(commands.modelSetRunOn(path, run)),
  modelSetTemplate: (path: string, template: string | null) => call(commands.modelSetTemplate(path, template)),
  templateChoices: () => call(commands.templateChoices()),
  modelLoadEstimate: (path: string) => call(commands.modelLoadEstimate(path)),
  modelAdvice: (path: string) => call(commands.modelAdvice(path)),
  whatIfPresets: () => call(commands.whatIfPresets()),
  modelImport: (path: string) => call(commands.modelImport(path)),
  modelPickAndImport: (folder: boolean) => call(commands.modelPickAndImport(folder)),
  modelDelete: (id: number) => call(commands.modelDelete(id)),
  modelReveal: (id: number) => call(commands.modelReveal(id)),
  settingsGet: () => call(commands.settingsGet()),
  settingsUpdate: (change: SettingsChange) => call(commands.settingsUpdate(change)),
  chatConversations: (query: string | null) => call(commands.chatConversations(query)),
  chatCreate: () => call(commands.chatCreate()),
  chatMessages: (id: number) => call(commands.chatMessages(id)),
  chatRename: (id: number, title: string) => call(commands.chatRename(id, title)),
  chatDelete: (id: number) => call(commands.chatDelete(id)),
  chatSetSettings: (id: number, settings: ConversationSettings) => call(commands.chatSetSettings(id, settings)),
  chatSend: (id: number, text: string, pictures: string[], on: (e: ChatEvent) => void) =>
    call(commands.chatSend(id, text, pictures, channel(on))),
  chatPicture: (id: number, hash: string) => call(commands.chatPicture(id, hash)),
  chatRegenerate: (id: number, on: (e: ChatEvent) => void) => call(commands.chatRegenerate(id, channel(on))),
  chatEdit: (id: number, messageId: number, text: string, on: (e: ChatEvent) => void) =>
    call(commands.chatEdit(id, messageId, text, channel(on))),
  chatStop: (id: number) => call(commands.chatStop(id)),
  chatExport: (id: number, json: boolean) => call(commands.chatExport(id, json)),
  chatDecide: (callId: number, decision: ToolDecision) => call(commands.chatDecide(callId, decision)),
  mcpOverview: () => call(commands.mcpOverview()),
  mcpConfigText: () => call(commands.mcpConfigText()),
  mcpSaveConfig: (text: string) => call(commands.mcpSaveConfig(text)),
  mcpImport: (path: string) => call(commands.mcpImport(path)),
  mcpRestart: (name: string) => call(commands.mcpRestart(name)),
  mcpSetPermissions: (readOnlyWithoutAsking: boolean, alwaysAllowed: [string, string][]) =>
    call(commands.mcpSetPermissions(readOnlyWithoutAsking, alwaysAllowed)),
  engineLoad: (path: string, force: boolean, on: (e: LoadEvent) => void) => call(commands.engineLoad(path, force, channel(on))),
  engineUnload: () => call(commands.engineUnload()),
  engineLoaded: () => call(commands.engineLoaded()),
  /** What Chat answers with, now and at every change (the runtime's feed); resolves at once. */
  engineWatch: (on: (m: ChatModel) => void) => commands.engineWatch(channel(on)),
  serverStatus: () => call(commands.serverStatus()),
  serverStart: (settings: ServerSettings) => call(commands.serverStart(settings)),
  serverStop: () => call(commands.serverStop()),
  serverLog: () => call(commands.serverLog()),
  connectionsList: () => call(commands.connectionsList()),
  connectionSave: (input: ConnectionInput) => call(commands.connectionSave(input)),
  connectionRemove: (id: string) => call(commands.connectionRemove(id)),
  remoteModels: () => call(commands.remoteModels()),
  chatUseRemote: (model: RemoteModel) => call(commands.chatUseRemote(model)),
  chatRemote: () => call(commands.chatRemote()),
};

/** A Channel whose messages go to `on`: how a command streams to the window. */
function channel<T>(on: (e: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c;
}
