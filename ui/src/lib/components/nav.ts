// The app's views, in the order the sidebar lists them.
export type ViewId = "chat" | "discover" | "models" | "downloads" | "hardware" | "server" | "settings";
