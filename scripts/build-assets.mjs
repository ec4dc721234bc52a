// Bundles closeloop/static/src into closeloop/static/dist with esbuild.
// Run by `make` (npm run build); nothing third-party is committed.
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";

const outdir = "closeloop/static/dist";
mkdirSync(outdir, { recursive: true });

await esbuild.build({
  entryPoints: {
    app: "closeloop/static/src/app.js",
    "app-style": "closeloop/static/src/app.css",
  },
  bundle: true,
  minify: true,
  sourcemap: true,
  outdir,
  target: ["es2020"],
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".svg": "file", ".png": "file" },
  assetNames: "assets/[name]-[hash]",
  logLevel: "warning",
});
console.log(`assets built into ${outdir}`);
