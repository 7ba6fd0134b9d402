#!/usr/bin/env node
// Copy the few dist files Hotspot serves from node_modules into web/static/vendor/.
// Run with `npm install && npm run vendor`; the output is committed so installing the
// Python package never needs Node. Versions come from package.json (exact pins).
//
// Only minified builds are copied; source maps and ESM duplicates are left behind, and the
// trailing `sourceMappingURL` comments are stripped so browsers do not ask for missing maps.

import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const out = join(root, "web", "static", "vendor");

// [package, destination folder, [[source path in package, destination name], ...]]
const PLAN = [
  ["bootstrap", "bootstrap", [
    ["dist/css/bootstrap.min.css", "bootstrap.min.css"],
    ["dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"],
    ["LICENSE", "LICENSE"],
  ]],
  ["bootstrap-icons", "bootstrap-icons", [
    ["font/bootstrap-icons.min.css", "bootstrap-icons.min.css", woff2Only],
    ["font/fonts/bootstrap-icons.woff2", "fonts/bootstrap-icons.woff2"],
    ["LICENSE", "LICENSE"],
  ]],
  ["htmx.org", "htmx", [
    ["dist/htmx.min.js", "htmx.min.js"],
    ["LICENSE", "LICENSE"],
  ]],
  ["htmx-ext-sse", "htmx-ext-sse", [
    ["dist/sse.min.js", "sse.min.js"],
    ["LICENSE", "LICENSE"],
  ]],
  // The CSP build: Alpine without `new Function`, so `script-src 'self'` needs no 'unsafe-eval'.
  ["@alpinejs/csp", "alpinejs-csp", [
    ["dist/cdn.min.js", "cdn.min.js"],
  ]],
  ["echarts", "echarts", [
    ["dist/echarts.min.js", "echarts.min.js"],
    ["LICENSE", "LICENSE"],
  ]],
  ["leaflet", "leaflet", [
    ["dist/leaflet.js", "leaflet.js"],
    ["dist/leaflet.css", "leaflet.css"],
    ["dist/images", "images"],
    ["LICENSE", "LICENSE"],
  ]],
];

// The woff fallback is not shipped: every browser Hotspot supports reads woff2.
function woff2Only(text) {
  return text.replace(/,url\("fonts\/bootstrap-icons\.woff\?[0-9a-f]+"\) format\("woff"\)/, "");
}

function stripSourceMap(text) {
  return text.replace(/\n?\/[/*]# sourceMappingURL=\S+?(\s*\*\/)?\s*$/, "\n");
}

function copy(src, dest, transform) {
  mkdirSync(dirname(dest), { recursive: true });
  if (/\.(js|css)$/.test(dest)) {
    let text = stripSourceMap(readFileSync(src, "utf8"));
    if (transform) text = transform(text);
    writeFileSync(dest, text);
  } else {
    copyFileSync(src, dest);
  }
}

function copyTree(src, dest) {
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    if (statSync(from).isDirectory()) copyTree(from, join(dest, name));
    else copy(from, join(dest, name));
  }
}

function size(path) {
  if (!statSync(path).isDirectory()) return statSync(path).size;
  return readdirSync(path).reduce((n, name) => n + size(join(path, name)), 0);
}

const pins = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const versions = {};
for (const [pkg, folder, files] of PLAN) {
  const base = join(modules, pkg);
  if (!existsSync(base)) throw new Error(`${pkg} is not installed: run \`npm install\` first`);
  const version = JSON.parse(readFileSync(join(base, "package.json"), "utf8")).version;
  if (pins[pkg] !== version) throw new Error(`${pkg}: package.json pins ${pins[pkg]}, node_modules has ${version}`);
  for (const [from, to, transform] of files) {
    const src = join(base, from);
    const dest = join(out, folder, to);
    if (statSync(src).isDirectory()) copyTree(src, dest);
    else copy(src, dest, transform);
  }
  versions[pkg] = version;
  console.log(`${pkg.padEnd(16)} ${version.padEnd(8)} -> ${relative(root, join(out, folder))}`);
}

writeFileSync(join(out, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`total ${(size(out) / 1024).toFixed(0)} KiB in ${relative(root, out)}`);
