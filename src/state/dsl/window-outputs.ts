import { WalrusError } from '../../errors/index.js';
import type { WindowResult, WindowStep } from './windowed-aggregation.js';

/** Where a windowed step's results and late records go. */
export interface WindowRouting {
  /** Output that receives window results. @default 'default' */
  output?: string;
  /** Late records: to this output, to the dead-letter topic, or dropped. @default 'dead-letter' */
  late?: { output: string } | 'dead-letter' | 'drop';
}

/** One thing the runtime must do with a windowed step's outcome. */
export type WindowAction<V, A> =
  | { kind: 'emit'; output: string; key: string; value: WindowResult<A> }
  | { kind: 'late'; output: string; key: string; value: V }
  | { kind: 'dead-letter'; error: WalrusError };

/**
 * Turns a step into outputs: every closed window (and, with `emitOnUpdate`,
 * every updated one) goes to `output` keyed by the record key; a late record
 * goes to the late output, the dead-letter topic (with a LATE_RECORD error
 * that names the window and the stream time) or nowhere.
 */
export function routeWindowStep<V, A>(step: WindowStep<A>, record: { key: string; value: V; eventTime?: number }, routing: WindowRouting = {}): Array<WindowAction<V, A>> {
  const output = routing.output ?? 'default';
  const actions: Array<WindowAction<V, A>> = [];
  for (const w of step.updates) actions.push({ kind: 'emit', output, key: w.key, value: w });
  for (const w of step.closed) actions.push({ kind: 'emit', output, key: w.key, value: w });
  if (step.late) {
    const late = routing.late ?? 'dead-letter';
    if (late === 'dead-letter') {
      actions.push({
        kind: 'dead-letter',
        error: new WalrusError('LATE_RECORD', `record with key "${record.key}" arrived after all its windows closed (stream time ${step.streamTime}${record.eventTime === undefined ? '' : `, event time ${record.eventTime}`}); raise graceMs to accept later data`, {
          context: { key: record.key, streamTime: step.streamTime, eventTime: record.eventTime },
        }),
      });
    } else if (late !== 'drop') {
      actions.push({ kind: 'late', output: late.output, key: record.key, value: record.value });
    }
  }
  return actions;
}
