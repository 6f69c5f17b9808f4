// vite.config.ts: builds the web app (web/) into dist/app, which `trm serve` and `trm export-web`
// serve. base './' keeps every URL relative, so the built site works under any path or host.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  base: './',
  logLevel: 'warn',
  build: { outDir: '../dist/app', emptyOutDir: true, chunkSizeWarningLimit: 4096, target: 'es2022' },
});
