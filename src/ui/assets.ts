/**
 * The console's static files, all served by Orbit (no CDN): our CSS, script and icon from
 * src/ui/assets/, and htmx and uPlot from their npm packages. Each URL carries the file's content
 * hash (`/ui/assets/console-<hash>.css`), so it is cached for a year and a new version is a new URL.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileAsset, type VendoredFile } from '../lib/vendored.ts';

const require = createRequire(import.meta.url);

/** A file read once, on first use. */
const once = (path: () => string): (() => VendoredFile) => {
  let loaded: VendoredFile | undefined;
  return () => (loaded ??= fileAsset(path()));
};
const own = (name: string) => once(() => fileURLToPath(new URL(`./assets/${name}`, import.meta.url)));
/** A file beside a package's main entry (its `exports` may hide the browser build). */
const beside = (entry: () => string, name: string) => once(() => join(dirname(entry()), name));

/** Name → file; the name's extension is the URL's. */
const ASSETS = {
  'console.css': own('console.css'),
  'console.js': own('console.js'),
  'favicon.svg': own('favicon.svg'),
  // htmx 2 (page enhancement): the main entry is dist/htmx.esm.js, the browser build sits beside it.
  'htmx.js': beside(() => require.resolve('htmx.org'), 'htmx.min.js'),
  // uPlot (the overview chart): the main entry is dist/uPlot.cjs.js.
  'uplot.js': beside(() => require.resolve('uplot'), 'uPlot.iife.min.js'),
  'uplot.css': beside(() => require.resolve('uplot'), 'uPlot.min.css'),
} as const;

export type AssetName = keyof typeof ASSETS;

function split(name: AssetName): { base: string; extension: string } {
  const dot = name.lastIndexOf('.');
  return { base: name.slice(0, dot), extension: name.slice(dot) };
}

/** The hashed URL of an asset. */
export function assetUrl(name: AssetName): string {
  const { base, extension } = split(name);
  return `/ui/assets/${base}-${ASSETS[name]().hash}${extension}`;
}

/** The asset a requested file name (`console-<hash>.css`) stands for, if the hash is current. */
export function findAsset(file: string): VendoredFile | null {
  const match = /^([a-z]+)-([0-9a-f]{16})(\.[a-z]+)$/.exec(file);
  if (!match) return null;
  const name = `${match[1]}${match[3]}`;
  if (!Object.hasOwn(ASSETS, name)) return null;
  const asset = ASSETS[name as AssetName]();
  return asset.hash === match[2] ? asset : null;
}
