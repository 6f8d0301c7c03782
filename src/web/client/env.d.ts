// esbuild bundles CSS imported from TypeScript (main.ts → app.css).
declare module '*.css';
