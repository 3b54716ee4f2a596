import type { InputRef } from '../types.js';
import { didYouMean } from './suggest.js';

/**
 * Resolving the names a topology uses to refer to its parts: `source`,
 * `processor` (its `default` output) and `processor.output`. Works on the raw
 * (not yet validated) value so references are checked even when other parts
 * of the file are wrong, and every problem is reported in one run.
 */

export type RawEntry = Record<string, unknown>;
export type RawSection = Record<string, RawEntry | unknown>;

export const NAME_RULE = 'use letters, digits, _ and -, starting with a letter or _ (dots are reserved for "processor.output")';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Names {
  readonly sources: RawSection;
  readonly processors: RawSection;

  constructor(raw: Record<string, unknown>) {
    this.sources = isRecord(raw.sources) ? raw.sources : {};
    this.processors = isRecord(raw.processors) ? raw.processors : {};
  }

  /** Declared outputs of a processor; `['default']` when none (or when they are malformed). */
  outputsOf(processor: string): string[] {
    const entry = this.processors[processor];
    const outputs = isRecord(entry) ? entry.outputs : undefined;
    if (Array.isArray(outputs) && outputs.length > 0 && outputs.every((o) => typeof o === 'string')) return outputs as string[];
    return ['default'];
  }

  sourceTopic(source: string): string | undefined {
    const entry = this.sources[source];
    return isRecord(entry) && typeof entry.topic === 'string' ? entry.topic : undefined;
  }

  /**
   * Resolves one reference, or returns what is wrong with it. Sinks pass
   * `allowSource: false`: they write processor outputs only.
   */
  resolve(ref: string, allowSource: boolean, self?: string): { ref: InputRef; canonical: string } | { error: string } | { skip: true } {
    const dot = ref.indexOf('.');
    const head = dot === -1 ? ref : ref.slice(0, dot);
    const output = dot === -1 ? undefined : ref.slice(dot + 1);
    const isSource = Object.hasOwn(this.sources, head);
    const isProcessor = Object.hasOwn(this.processors, head);
    // A name that is both a source and a processor is reported once, at the name.
    if (isSource && isProcessor && output === undefined) return { skip: true };
    if (isProcessor) {
      const outputs = this.outputsOf(head);
      const wanted = output ?? 'default';
      if (!outputs.includes(wanted)) {
        const list = outputs.map((o) => `"${head}.${o}"`).join(', ');
        return output === undefined
          ? { error: `processor "${head}" has no "default" output (it declares ${outputs.map((o) => `"${o}"`).join(', ')}); name one: ${list}` }
          : { error: `processor "${head}" has no output "${output}" (its outputs: ${list})${didYouMean(output, outputs)}` };
      }
      return { ref: { kind: 'processor', name: head, output: wanted }, canonical: `${head}.${wanted}` };
    }
    if (isSource) {
      if (!allowSource) return { error: `"${head}" is a source; a sink writes a processor output ("processor" or "processor.output"), add a processor between them` };
      if (output !== undefined) return { error: `"${ref}": source "${head}" has no named outputs; refer to it as "${head}"` };
      return { ref: { kind: 'source', name: head, topic: this.sourceTopic(head) ?? '' }, canonical: head };
    }
    const candidates = [...(allowSource ? Object.keys(this.sources) : []), ...Object.keys(this.processors)].filter((n) => n !== self);
    const what = allowSource ? 'source or processor' : 'processor';
    const known = candidates.length > 0 ? didYouMean(head, candidates) || `; known: ${candidates.join(', ')}` : '';
    return { error: `unknown ${what} "${head}"${known}` };
  }
}
