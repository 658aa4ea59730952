import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `control-plane/build.rs` sets HALYARD_DASHBOARD_OUT to a directory under
// Cargo's OUT_DIR, so no built asset ever lands in the source tree.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: process.env.HALYARD_DASHBOARD_OUT ?? "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` against a node on :8080 (same origin through the proxy,
    // so the session cookie works as in production).
    proxy: { "/api": "http://127.0.0.1:8080", "/readyz": "http://127.0.0.1:8080" },
  },
});
