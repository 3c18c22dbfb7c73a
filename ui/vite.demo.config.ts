import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// A browser build of the UI against demo/mock-backend.ts, for screenshots and design work. Not shipped.
export default defineConfig({
  plugins: [svelte()],
  base: './',
  build: { outDir: 'demo-dist', emptyOutDir: true, rollupOptions: { input: 'demo.html' } },
});
