import { WalrusError } from '../../errors/index.js';

/** What a running pipeline's observability server says about itself. */
export interface PipelineStatus {
  /** Prometheus text from `/metrics`. */
  metrics: string;
  /** `/healthz`: HTTP status and JSON body. */
  health: { status: number; body: Record<string, unknown> };
  /** `/readyz`: HTTP status and JSON body (`failing` lists what is wrong). */
  ready: { status: number; body: Record<string, unknown> };
}

/**
 * Reads `/metrics`, `/healthz` and `/readyz` of a running pipeline at
 * `address` (`host:port`), for `walrus-stream metrics --pipeline`.
 * A pipeline that is not listening fails with CONNECTION_REFUSED and a hint.
 */
export async function fetchPipelineStatus(address: string, options: { timeoutMs?: number; bearerToken?: string | undefined } = {}): Promise<PipelineStatus> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const headers: Record<string, string> = options.bearerToken ? { authorization: `Bearer ${options.bearerToken}` } : {};
  const get = async (path: string): Promise<Response> => {
    try {
      return await fetch(`http://${address}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') {
        throw new WalrusError('CONNECTION_REFUSED', `no pipeline is serving metrics at ${address}: is it running, with observability.http set to that address?`, { cause: error, context: { node: address } });
      }
      if ((error as Error).name === 'TimeoutError') {
        throw new WalrusError('REQUEST_TIMEOUT', `the pipeline at ${address} did not answer ${path} within ${timeoutMs} ms`, { cause: error, context: { node: address } });
      }
      const detail = cause?.code ?? (cause as Error | undefined)?.message ?? (error as Error).message;
      throw new WalrusError('NETWORK_ERROR', `could not reach the pipeline at ${address} (${detail}): is it running, with observability.http set to that address?`, { cause: error, context: { node: address } });
    }
  };
  const json = async (res: Response): Promise<Record<string, unknown>> => {
    const text = await res.text();
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { raw: text };
    }
  };
  const [metrics, health, ready] = await Promise.all([get('/metrics'), get('/healthz'), get('/readyz')]);
  if (metrics.status === 401) {
    throw new WalrusError('AUTH_FAILED', `the pipeline at ${address} wants credentials for /metrics: set WALRUS_METRICS_TOKEN to its bearer token.`, { context: { node: address } });
  }
  if (metrics.status === 429) {
    const reason = (await json(metrics)).error ?? 'too many wrong credentials';
    throw new WalrusError('AUTH_FAILED', `the pipeline at ${address} refuses this address for now (${String(reason)}); retry after ${metrics.headers.get('retry-after') ?? '?'} s with the right WALRUS_METRICS_TOKEN.`, { context: { node: address } });
  }
  return {
    metrics: await metrics.text(),
    health: { status: health.status, body: await json(health) },
    ready: { status: ready.status, body: await json(ready) },
  };
}
