import type { IncomingMessage } from 'node:http';
import { isLoopback } from '../../util/exposure.js';

function hostName(host: string): string {
  // `[v6]:port` keeps its brackets; `name:port` loses the port.
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** True when a Host header (`name`, `name:port`, `[v6]:port`) names a loopback host. */
export function isLoopbackHost(host: string): boolean {
  return isLoopback(hostName(host));
}

/**
 * Why a request to the dashboard must be refused, or undefined when it may
 * go on. Two attacks are kept out:
 *
 * - DNS rebinding: a page on evil.example whose name later resolves to
 *   127.0.0.1 would be same-origin with the dashboard. On a loopback bind,
 *   the Host header must therefore be a loopback name.
 * - Requests a page of another site makes the browser send (`Sec-Fetch-Site`
 *   not `same-origin` or `none`), but for top-level navigations to a GET.
 * - Cross-site requests that change data (replay): a POST must carry
 *   `content-type: application/json` (which a cross-origin page cannot send
 *   without a CORS preflight, which is never answered) and, when the browser
 *   sends an Origin, it must be this server's own.
 */
export function refuseReason(req: IncomingMessage, options: { loopback: boolean }): string | undefined {
  const host = req.headers.host;
  if (host === undefined || host === '') return 'no Host header';
  if (options.loopback && !isLoopbackHost(host)) {
    return `Host "${host}" is not a loopback name: open the dashboard as http://127.0.0.1:<port>/ (or localhost)`;
  }
  const crossSite = crossSiteReason(req);
  if (crossSite !== undefined) return crossSite;
  if (req.method !== 'POST') return undefined;
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') return `POST needs content-type application/json (got "${type || 'none'}")`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    return `cross-origin POST refused (Origin ${origin} is not http://${host})`;
  }
  return undefined;
}

/**
 * Why a request a browser sent for a page of another origin must be refused,
 * or undefined. Such a page can make the browser send GETs here (no-cors
 * fetch, `<img>`, `<script>`): it cannot read the answers, but the run does
 * the work (a store read loads the store whole; `/readyz` connects to every
 * node) as often as the page likes. Browsers say where a request comes from
 * (`Sec-Fetch-Site`); only a top-level navigation (a link, a bookmark) may
 * come from elsewhere. Scrapers send no such header.
 */
export function crossSiteReason(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  const navigation = req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document' && req.method !== 'POST';
  if (site === undefined || site === 'same-origin' || site === 'none' || navigation) return undefined;
  return `${site} request refused (Sec-Fetch-Site: ${site}): a page of another origin may not call ${req.url ?? '/'}; open http://${req.headers.host ?? '<host>'}${req.url ?? '/'} itself`;
}

/** Reads a JSON request body of at most `maxBytes` (checked before buffering more). */
export async function readJsonBody(req: IncomingMessage, maxBytes = 64 * 1024): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyError(413, `request body is ${declared} bytes; the limit is ${maxBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyError(413, `request body is over the ${maxBytes}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new BodyError(400, `request body is not JSON: ${(error as Error).message}`);
  }
}

/** A request the dashboard refuses, with the HTTP status to answer. */
export class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
