import type { Logger } from 'pino';
import type { StageGroup } from '../../topology/stage-groups.js';
import { SPILL_AFTER, type ExitRecord } from '../wire/messages.js';

/**
 * What a stage group did that its topology did not say, logged once per run
 * each: a fan-out spilled past SPILL_AFTER, a processor that changed a key
 * before a keyed member of its own group without `rekey: true`.
 */
export class GroupNotices {
  readonly #logger: Logger | undefined;
  readonly #spilled = new Set<string>();
  readonly #rekeyed = new Set<string>();

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  /** A task of `group` derived so many records that the rest of its chains went on in tasks of their own. */
  spill(group: StageGroup): void {
    if (this.#spilled.has(group.name)) return;
    this.#spilled.add(group.name);
    this.#logger?.info({ group: group.name, spillAfter: SPILL_AFTER },
      `stage group "${group.name}": a task derived more than ${SPILL_AFTER.toLocaleString('en-US')} records (fan-out multiplying across its processors); ` +
      'the steps it had not run continue in tasks of their own, so one task never holds them all (logged once)');
  }

  /** `exit` left `group` for a member of the same group: the member before it changed its key. */
  rekey(group: StageGroup, exit: ExitRecord): void {
    const by = group.members[exit.hops[exit.hops.length - 2]!]!;
    if (this.#rekeyed.has(by)) return;
    this.#rekeyed.add(by);
    this.#logger?.warn({ processor: by, next: exit.target, group: group.name },
      `processor "${by}" changed a record's key before "${exit.target}" (key ordering) in one stage group; such records go back to the coordinator ` +
      `to keep key order. Declare \`rekey: true\` on "${by}" in the topology so the group ends there (docs/pipeline.md, "Stage groups")`);
  }
}
