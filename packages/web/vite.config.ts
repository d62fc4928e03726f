import { defineConfig } from "vite";

// The app is served by `openblaze serve` from dist/app (see packages/server/src/http/web.ts).
export default defineConfig({
  base: "./",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist/app",
    emptyOutDir: true,
    target: "es2022",
    // The server's CSP allows no inline script, and small assets stay separate files anyway.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
