import { zod } from '../../util/zod.js';
import type { infer as Infer, ZodType } from 'zod';

const z = zod();

/**
 * The format of a `walrus-stream test` file (docs/testing.md). One file
 * holds the cases of one topology; each case starts a fresh driver, pipes
 * its input and checks what came out.
 */

const timestamp = z.union([z.number().int(), z.string(), z.date()]);

const inputRecord = z.strictObject({
  value: z.unknown(),
  key: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  timestamp: timestamp.optional(),
  id: z.string().optional(),
});

const outputRecord = z.strictObject({
  value: z.unknown().optional(),
  key: z.string().nullable().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  timestamp: timestamp.optional(),
});

const deadLetter = z.strictObject({
  processor: z.string().optional(),
  code: z.string().optional(),
  /** Substring of the message, or `/regex/flags`. */
  message: z.string().optional(),
  attempts: z.number().int().positive().optional(),
  key: z.string().nullable().optional(),
  /** The original record's value (subset match). */
  value: z.unknown().optional(),
  topic: z.string().optional(),
});

/** How a list of expected records is compared with what arrived. */
const listOptions = {
  /** `strict`: in this order; `any`: in any order. @default strict */
  order: z.enum(['strict', 'any']).optional(),
  /** `subset`: the fields written must match (objects: the keys written); `exact`: values must be deep-equal. @default subset */
  match: z.enum(['subset', 'exact']).optional(),
  /** True: nothing else arrived; false: other records may be interleaved. @default true */
  exhaustive: z.boolean().optional(),
  /** How many records arrived (alone, or beside `records`). */
  count: z.number().int().nonnegative().optional(),
};

function listOf<T extends ZodType>(item: T) {
  return z.union([z.array(item), z.strictObject({ records: z.array(item).optional(), ...listOptions })]);
}

const inputs = z.record(z.string(), z.array(inputRecord));
const duration = z.union([z.string(), z.number().nonnegative()]);

export const testCaseSchema = z.strictObject({
  name: z.string().min(1),
  /** Virtual clock start (epoch ms or ISO-8601). @default 2026-01-01T00:00:00Z */
  startTime: timestamp.optional(),
  /** Records per source, piped in the order written (sources in the order written). */
  input: inputs.optional(),
  /** Virtual time to let pass after the input (a duration: `30s`, `5m`, or ms). */
  advance: duration.optional(),
  /** Instead of `input`/`advance`: several of them in turn (pipe, let time pass, pipe again). */
  steps: z.array(z.union([z.strictObject({ input: inputs }), z.strictObject({ advance: duration })])).optional(),
  expect: z.strictObject({
    sinks: z.record(z.string(), listOf(outputRecord)).optional(),
    deadLetters: listOf(deadLetter).optional(),
    /** Entries of state stores: key → value (subset match); `null`: the key is absent. */
    stores: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  }),
});

export const testFileSchema = z.strictObject({
  /** The topology under test, relative to this file. @default topology.yaml beside it */
  topology: z.string().optional(),
  /** `${VAR}` values for the topology (added to the environment). */
  env: z.record(z.string(), z.string()).optional(),
  tests: z.array(testCaseSchema).min(1),
});

export type TestFile = Infer<typeof testFileSchema>;
export type TestCase = Infer<typeof testCaseSchema>;
export type ExpectedList<T> = T[] | { records?: T[]; order?: 'strict' | 'any'; match?: 'subset' | 'exact'; exhaustive?: boolean; count?: number };
export type ExpectedOutput = Infer<typeof outputRecord>;
export type ExpectedDeadLetter = Infer<typeof deadLetter>;
