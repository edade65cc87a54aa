import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

// The window loads ui/dist through Tauri's asset protocol; Vitest uses jsdom.
export default defineConfig({
  plugins: [svelte()],
  resolve: {
    alias: { $lib: fileURLToPath(new URL("./src/lib", import.meta.url)) },
    conditions: process.env.VITEST ? ["browser"] : [],
  },
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 600 },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
