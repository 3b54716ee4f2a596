import { readFileSync } from 'node:fs';

/** A static file of the page: read once, served from memory. */
export interface Asset { body: Buffer; contentType: string }

const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/graph.js': { file: 'graph.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/charts.js': { file: 'charts.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/dead-letters.js': { file: 'dead-letters.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/dom.js': { file: 'dom.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/partitions.js': { file: 'partitions.js', contentType: 'text/javascript; charset=utf-8' },
  '/assets/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
};

let loaded: Map<string, Asset> | undefined;

/**
 * The dashboard's page, script and styles, shipped as plain files next to
 * this module (no build step, no CDN), read on first use.
 */
export function dashboardAsset(path: string): Asset | undefined {
  loaded ??= new Map(Object.entries(FILES).map(([route, { file, contentType }]) =>
    [route, { body: readFileSync(new URL(`./assets/${file}`, import.meta.url)), contentType }]));
  return loaded.get(path === '/index.html' ? '/' : path);
}

/**
 * Headers for every dashboard answer: scripts, styles and connections only
 * from this server (so injected markup cannot load or send anything), no
 * framing (clickjacking the replay button), no MIME sniffing, no referrer.
 */
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;
