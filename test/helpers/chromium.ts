import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Debian's headless Chromium for the browser tests (never a downloaded one).
 * WALRUS_CHROMIUM points elsewhere.
 */
export const CHROMIUM = process.env.WALRUS_CHROMIUM ?? '/usr/bin/chromium';

/**
 * `.ci/run` installs Chromium while the other tests run, not before them: it
 * sets WALRUS_CHROMIUM_INSTALL to a folder where the install's output goes
 * (`log`) and, when it has ended, its exit code (`status`). The browser
 * tests wait here for that status, up to `timeoutMs`; without the variable
 * nothing is waited for. Either way Chromium must then be there: a missing
 * browser fails the test with how to install it (no skip).
 */
export async function chromiumReady(timeoutMs = 480_000): Promise<string> {
  const pending = process.env.WALRUS_CHROMIUM_INSTALL;
  if (pending) {
    const statusFile = join(pending, 'status');
    const end = Date.now() + timeoutMs;
    while (!existsSync(statusFile)) {
      if (Date.now() > end) throw new Error(`Chromium's install (${pending}/log) had not ended after ${timeoutMs / 1000} s`);
      await sleep(250);
    }
    const status = readFileSync(statusFile, 'utf8').trim();
    if (status !== '0') {
      const log = existsSync(join(pending, 'log')) ? readFileSync(join(pending, 'log'), 'utf8').slice(-4_000) : '(no log)';
      throw new Error(`installing Chromium (apt-get install chromium) failed with exit code ${status}; its output ends:\n${log}`);
    }
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y --no-install-recommends chromium) or set WALRUS_CHROMIUM`);
  }
  return CHROMIUM;
}
