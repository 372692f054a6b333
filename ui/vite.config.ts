// Vite builds the window's front end into ui/dist, which tauri.conf.json's frontendDist points at.
// No inline scripts or styles: the app's CSP allows only 'self'.
import { defineConfig } from 'vite';

export default defineConfig({
  clearScreen: false,
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: { port: 1420, strictPort: true },
});
