// Stroke icons on a 24×24 grid, drawn for Hearth. One path each, so a component can take them as data.
export const icons = {
  chat: "M4 5h16v11H9l-5 4z",
  discover: "M11 4a7 7 0 1 0 0 14a7 7 0 0 0 0-14zM20 20l-4.2-4.2",
  models: "M12 3l8 4-8 4-8-4zM4 12l8 4 8-4M4 17l8 4 8-4",
  downloads: "M12 4v11M7 10l5 5 5-5M5 20h14",
  hardware: "M7 7h10v10H7zM10 3v4M14 3v4M10 17v4M14 17v4M3 10h4M3 14h4M17 10h4M17 14h4",
  server: "M4 5h16v6H4zM4 13h16v6H4zM8 8h.01M8 16h.01",
  settings: "M4 7h9M17 7h3M4 17h3M11 17h9M15 5v4M9 15v4",
  memory: "M3 8h18v8H3zM7 8v8M11 8v8M15 8v8M6 16v3M18 16v3",
  gpu: "M3 7h18v10H3zM7 17v3M17 17v3M8 12a2 2 0 1 0 4 0a2 2 0 1 0-4 0M15 10h3M15 14h3",
  disk: "M4 6h16v12H4zM4 14h16M16 16.5h.01",
  picture: "M4 5h16v14H4zM4 16l5-5 4 4 2-2 5 5M15 9.5h.01",
} as const;

export type IconName = keyof typeof icons;
