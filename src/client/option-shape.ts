import { WalrusError } from '../errors/index.js';

/** What the options of a Producer or Consumer may hold, beyond the value checks of each option. */
export interface OptionShape {
  /** Every option name (nested ones as `parent.child` under `nested`). */
  known: readonly string[];
  /** Options that must be true or false when given. */
  booleans?: readonly string[];
  /** Options that must be functions when given (seams, callbacks). */
  functions?: readonly string[];
  /** Options that are objects of options: their own known names. */
  nested?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Checks the shape of a Producer's or Consumer's options: an object, no
 * unknown names, booleans and functions of the right type. Why: like the
 * client's own options (zod, `.strict()`), a typo must not silently fall
 * back to a default (`{ buffersize: 5 }` kept the buffer at 1,000), and a
 * seam that is not a function must fail here, not at its first use deep in a
 * fetch loop. An option given as `undefined` counts as left out.
 */
export function assertOptionShape(kind: 'Producer' | 'Consumer', options: unknown, shape: OptionShape): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options === 'string' ? JSON.stringify(options) : typeof options;
    throw new WalrusError('CONFIG_INVALID', `${kind} options must be an object { topic, ... }, got ${got}.`);
  }
  checkNames(kind, options as Record<string, unknown>, shape.known, '');
  const values = options as Record<string, unknown>;
  for (const [name, names] of Object.entries(shape.nested ?? {})) {
    const inner = values[name];
    if (inner === undefined) continue;
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
      throw new WalrusError('CONFIG_INVALID', `${kind} option ${name} must be an object { ${names.join(', ')} }, got ${show(inner)}.`);
    }
    checkNames(kind, inner as Record<string, unknown>, names, `${name}.`);
  }
  for (const name of shape.booleans ?? []) {
    const value = values[name];
    if (value !== undefined && typeof value !== 'boolean') throw new WalrusError('CONFIG_INVALID', `${kind} option ${name} must be true or false, got ${show(value)}.`);
  }
  for (const name of shape.functions ?? []) {
    const value = values[name];
    if (value !== undefined && typeof value !== 'function') throw new WalrusError('CONFIG_INVALID', `${kind} option ${name} must be a function, got ${show(value)}.`);
  }
}

function checkNames(kind: string, options: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const name of Object.keys(options)) {
    if (options[name] === undefined || known.includes(name)) continue;
    throw new WalrusError('CONFIG_INVALID', `Unknown ${kind} option "${prefix}${name}" (known: ${known.join(', ')}); check its spelling: it was not applied.`, {
      context: { option: `${prefix}${name}` },
    });
  }
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  const text = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
