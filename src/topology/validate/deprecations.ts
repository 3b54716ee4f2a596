import { DEPRECATED_FSYNC } from '../../util/fsync.js';
import type { DiagnosticList } from './diagnostics.js';
import { isRecord } from './references.js';

/**
 * Old spellings that still load, each reported as a warning that says what
 * to write instead (docs/migration.md lists them). The schema accepts them;
 * normalise() maps them to the current words.
 */
export function checkDeprecations(raw: unknown, out: DiagnosticList): void {
  if (!isRecord(raw) || !isRecord(raw.journal)) return;
  const fsync = raw.journal.fsync;
  if (typeof fsync === 'string' && Object.hasOwn(DEPRECATED_FSYNC, fsync)) {
    const current = DEPRECATED_FSYNC[fsync]!;
    out.warning(['journal', 'fsync'], `journal.fsync: "${fsync}" is the old spelling of "${current}" (same behaviour: group commit, fdatasync before acknowledging); write "${current}" (see docs/migration.md)`);
  }
}
