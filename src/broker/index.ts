export { startBroker, type BrokerHandle, type BrokerStats } from './server.js';
export type { RecoveryReport, RecoveryRepair } from './store/recovery-report.js';
export { startBrokerInWorker, type WorkerBrokerHandle } from './worker.js';
export { BROKER_DEFAULTS, resolveBrokerOptions, type BrokerOptions, type CompatMode, type FsyncPolicy, type ResolvedBrokerOptions } from './options.js';
