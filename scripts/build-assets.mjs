// Bundles closeloop/static/src into closeloop/static/dist with esbuild.
// Run by `make` (npm run build); nothing third-party is committed.
//
// Also writes dist/icons.svg: a sprite of the Tabler icons named in
// closeloop/static/src/icons.txt (one name a line), taken from the @tabler/icons
// package. Templates use them with {% icon "name" %} (closeloop.core.templatetags.ui);
// a test checks that every name a template uses is listed.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const outdir = "closeloop/static/dist";
mkdirSync(outdir, { recursive: true });

await esbuild.build({
  entryPoints: {
    app: "closeloop/static/src/app.js",
    "app-style": "closeloop/static/src/app.css",
    portal: "closeloop/static/src/portal.js",
    console: "closeloop/static/src/console.js",
    "console-style": "closeloop/static/src/console.css",
    mobile: "closeloop/static/src/mobile.js",
    "mobile-style": "closeloop/static/src/mobile.css",
    "mobile-sw": "closeloop/static/src/mobile-sw.js",
    designer: "closeloop/static/src/designer.js",
    "type-designer": "closeloop/static/src/type-designer.js",
    rules: "closeloop/static/src/rules.js",
    // ECharts is bundled here only: the analytics pages load it, no other page does.
    analytics: "closeloop/static/src/analytics.js",
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

function buildSprite() {
  // The package exports "./*" -> "./icons/*": resolve one icon to find the folder.
  const require = createRequire(import.meta.url);
  const iconsDir = dirname(require.resolve("@tabler/icons/outline/point.svg"));
  const names = readFileSync("closeloop/static/src/icons.txt", "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
  const symbols = [];
  const missing = [];
  for (const name of [...new Set(names)].sort()) {
    let svg;
    try {
      svg = readFileSync(join(iconsDir, `${name}.svg`), "utf8");
    } catch {
      missing.push(name);
      continue;
    }
    const inner = svg
      .replace(/^[\s\S]*?<svg[^>]*>/, "")
      .replace(/<\/svg>\s*$/, "")
      .replace(/<path stroke="none" d="M0 0h24v24H0z" fill="none"\s*\/>/, "")
      .replace(/\s*\n\s*/g, "");
    symbols.push(`<symbol id="${name}" viewBox="0 0 24 24">${inner}</symbol>`);
  }
  if (missing.length) {
    throw new Error(`icons.txt names icons @tabler/icons does not have: ${missing.join(", ")}`);
  }
  writeFileSync(
    join(outdir, "icons.svg"),
    `<svg xmlns="http://www.w3.org/2000/svg">${symbols.join("")}</svg>\n`,
  );
  return symbols.length;
}

const count = buildSprite();
copyFileSync("closeloop/static/src/favicon.svg", join(outdir, "favicon.svg"));
console.log(`assets built into ${outdir} (${count} icons)`);
