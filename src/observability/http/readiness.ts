/** The outcome of one named readiness check. */
export interface CheckResult {
  ok: boolean;
  /** Why it failed (or a short status when it passed), shown in the `/readyz` body. */
  detail?: string;
}

/** The body of `/readyz`. */
export interface ReadyReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

/** A readiness check: true/false or a result with a detail; may be async. */
export type ReadinessCheck = () => boolean | CheckResult | Promise<boolean | CheckResult>;

export interface ReadinessOptions {
  /**
   * A check that has not answered after this long counts as failed, so a
   * hung node cannot hang the probe.
   * @default 2000
   */
  timeoutMs?: number;
}

/**
 * Builds the `readiness` callback of the observability server from named
 * checks. The runtime supplies the usual four: `nodes` (every node answers),
 * `breakers` (none open), `workers` (pool threads up) and `journal` (replay
 * finished) — any other name works the same way.
 */
export function readinessFromChecks(checks: Record<string, ReadinessCheck>, options: ReadinessOptions = {}): () => Promise<ReadyReport> {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async () => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => runCheck(checks[name]!, timeoutMs)));
    const report: ReadyReport = { ready: true, checks: {} };
    names.forEach((name, i) => {
      report.checks[name] = results[i]!;
      if (!results[i]!.ok) report.ready = false;
    });
    return report;
  };
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `check did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const value = await Promise.race([Promise.resolve().then(check), timeout]);
    return typeof value === 'boolean' ? { ok: value } : value;
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
