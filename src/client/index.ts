/**
 * The Walrus client: pipelined connections, pools, retries, circuit
 * breakers, health checks and cluster balancing. See docs/client.md.
 */
export { WalrusClient, type CallOptions, type ClientStats } from './cluster/walrus-client.js';
export type { WalrusClientOptions, PoolOptions, RetryOptions, BreakerOptions, ResolvedClientOptions } from './cluster/options.js';
export { resolveClientOptions } from './cluster/options.js';
export { parseAddress, formatAddress, type NodeAddress, type NodeAddressInput } from './transport/address.js';
export { Connection, type ConnectionOptions, type ReplyParser, type ReplySample, type RequestMeta, type SocketFactory } from './transport/connection.js';
export type { ClientAuth } from './transport/auth.js';
export { readTlsFiles, type ClientTls, type ClientTlsFiles } from './transport/tls.js';
export { ConnectionPool, type PoolSettings, type PoolStats } from './transport/pool.js';
export { RetryPolicy, type RetrySettings, type RetrySeams, type RetryPredicate, type RetryEvent } from './cluster/retry.js';
export { CircuitBreaker, type BreakerSettings, type BreakerState, type BreakerSnapshot } from './cluster/breaker.js';
export { HashRing, hash32 } from './cluster/hash-ring.js';
export { createBalancer, RoundRobinBalancer, LeastOutstandingBalancer, ConsistentHashBalancer, type Balancer, type BalancerName, type BalancedNode } from './cluster/balancer.js';
export type { NodeCapabilities } from './transport/capabilities.js';
export type { Lease } from './cluster/lease.js';
export type { ClusterHealth, NodeHealth } from './cluster/health.js';
export type { NodeStats } from './cluster/node.js';
export type { TopicStateInfo } from './cluster/topic-state.js';
export { CLIENT_CHANNELS, STAT_NAMES, type RequestEvent, type RetryEventData, type BreakerEvent, type ConnectionEvent, type CapabilitiesEvent } from './cluster/events.js';
export { LATENCY_BUCKETS_MS, type CommandStats, type LatencySnapshot, type RetryCounters } from './cluster/stats.js';
export { systemClock, type Clock } from './transport/clock.js';
export { realSleep, type Sleep } from '../util/sleep.js';
export { Producer, type ProducerOptions, type ProducerClient, type LingerOptions, type SendOptions, type ProducerStats } from './producer/producer.js';
export { Consumer, type ConsumerOptions, type ConsumerClient, type ConsumerStats } from './consumer/consumer.js';
