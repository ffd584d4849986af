// Builds the operator GUI into web/dist/, which `syncord serve` serves (web/README.md).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // One bundle for the page; the graph and the editor are large libraries.
    chunkSizeWarningLimit: 2000,
  },
  server: {
    host: '127.0.0.1',
    // `npm run dev:web` against a running `syncord serve` on the default HTTP port.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
