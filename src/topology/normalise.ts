import { resolve } from 'node:path';
import { hidePassword, hideSecrets } from '../util/secret.js';
import { BUILTIN_AGGREGATE_MODULE, builtinAggregatePath, normaliseAggregate } from './aggregate.js';
import type { ParsedTopology } from './schema/schema.js';
import type { Resolution } from './validate/semantics.js';
import type { JournalSpec, ProcessorSpec, SinkSpec, SourceSpec, StoreSpec, Topology } from './types.js';
import { DEPRECATED_FSYNC } from '../util/fsync.js';

/**
 * Builds the runtime's `Topology` from the schema's output and the resolved
 * references. Only called when there are no errors, so every reference is
 * known to resolve.
 */
export function normalise(parsed: ParsedTopology, resolution: Resolution, file: string, dir: string): Topology {
  const sources: Record<string, SourceSpec> = {};
  for (const [name, s] of Object.entries(parsed.sources)) sources[name] = { name, ...s };

  const processors: Record<string, ProcessorSpec> = {};
  for (const [name, p] of Object.entries(parsed.processors)) {
    const inputs = resolution.inputs.get(name) ?? { canonical: [], refs: [] };
    const aggregate = p.aggregate === undefined ? undefined : normaliseAggregate(p.aggregate);
    processors[name] = {
      name,
      module: p.module ?? BUILTIN_AGGREGATE_MODULE,
      modulePath: p.module === undefined ? builtinAggregatePath() : resolve(dir, p.module),
      input: inputs.canonical,
      inputs: inputs.refs,
      outputs: p.outputs,
      concurrency: p.concurrency,
      ordering: p.ordering,
      batchSize: p.batchSize,
      timeout: p.timeout,
      maxOutputs: p.maxOutputs,
      maxOutputBytes: p.maxOutputBytes,
      retry: p.retry,
      deadLetter: p.deadLetter ?? resolution.deadLetters.get(name) ?? `${name}.dlq`,
      config: p.config,
      stores: p.stores,
      rekey: p.rekey,
      fuse: p.fuse,
    };
    // An aggregate step: the built-in module, its spec as config, key ordering and its one store.
    if (aggregate !== undefined) Object.assign(processors[name], { ordering: 'key', stores: [aggregate.store], config: aggregate, aggregate });
  }

  const sinks: Record<string, SinkSpec> = {};
  for (const [name, s] of Object.entries(parsed.sinks)) {
    const input = resolution.sinkInputs.get(name)!;
    sinks[name] = { name, ...s, input };
  }

  const stores: Record<string, StoreSpec> = {};
  for (const [name, s] of Object.entries(parsed.stores)) {
    // Same default as the state layer's changelogTopic(app, store).
    stores[name] = { name, changelog: s.changelog ?? `${parsed.app}-${name}-changelog`, partitions: s.partitions, fsync: s.fsync, snapshotEvery: s.snapshotEvery, restoreBatch: s.restoreBatch };
  }

  return {
    file,
    dir,
    app: parsed.app,
    stateDir: resolve(dir, parsed.stateDir),
    workers: parsed.workers,
    cluster: {
      ...parsed.cluster,
      embedded: {
        ...parsed.cluster.embedded,
        dataDir: resolve(dir, parsed.cluster.embedded.dataDir),
        ...(parsed.cluster.embedded.users === undefined ? {} : { users: resolve(dir, parsed.cluster.embedded.users) }),
      },
      ...(parsed.cluster.auth ? { auth: hidePassword(parsed.cluster.auth) } : {}),
      ...(parsed.cluster.tls ? { tls: tlsPaths(parsed.cluster.tls, dir) } : {}),
    },
    sources,
    processors,
    sinks,
    stores,
    observability: { ...parsed.observability, ...(parsed.observability.httpAuth ? { httpAuth: hideSecrets(parsed.observability.httpAuth) } : {}) },
    workerPool: parsed.workerPool,
    journal: { fsync: currentJournalFsync(parsed.journal.fsync) },
  };
}

/** The journal's fsync in current words (validation already warned about an old spelling). */
function currentJournalFsync(given: string): JournalSpec['fsync'] {
  return (Object.hasOwn(DEPRECATED_FSYNC, given) ? DEPRECATED_FSYNC[given] : given) as JournalSpec['fsync'];
}

/** `cluster.tls` with its PEM file paths made absolute (relative ones are relative to the topology file). */
function tlsPaths(tls: NonNullable<ParsedTopology['cluster']['tls']>, dir: string): NonNullable<Topology['cluster']['tls']> {
  const out: NonNullable<Topology['cluster']['tls']> = {};
  if (tls.ca !== undefined) out.ca = resolve(dir, tls.ca);
  if (tls.cert !== undefined) out.cert = resolve(dir, tls.cert);
  if (tls.key !== undefined) out.key = resolve(dir, tls.key);
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  return out;
}
