/**
 * The Walrus client: pipelined connections, pools, retries, circuit
 * breakers, health checks and cluster balancing. See docs/client.md.
 */
export { WalrusClient, type CallOptions, type ClientStats } from './walrus-client.js';
export type { WalrusClientOptions, PoolOptions, RetryOptions, BreakerOptions, ResolvedClientOptions } from './options.js';
export { resolveClientOptions } from './options.js';
export { parseAddress, formatAddress, type NodeAddress, type NodeAddressInput } from './address.js';
export { Connection, type ConnectionOptions, type ReplyParser, type ReplySample, type RequestMeta, type SocketFactory } from './connection.js';
export { ConnectionPool, type PoolSettings, type PoolStats } from './pool.js';
export { RetryPolicy, type RetrySettings, type RetrySeams, type RetryPredicate, type RetryEvent } from './retry.js';
export { CircuitBreaker, type BreakerSettings, type BreakerState, type BreakerSnapshot } from './breaker.js';
export { HashRing, hash32 } from './hash-ring.js';
export { createBalancer, RoundRobinBalancer, LeastOutstandingBalancer, ConsistentHashBalancer, type Balancer, type BalancerName, type BalancedNode } from './balancer.js';
export type { NodeCapabilities } from './capabilities.js';
export type { Lease } from './lease.js';
export type { ClusterHealth, NodeHealth } from './health.js';
export type { NodeStats } from './node.js';
export type { TopicStateInfo } from './topic-state.js';
export { CLIENT_CHANNELS, STAT_NAMES, type RequestEvent, type RetryEventData, type BreakerEvent, type ConnectionEvent, type CapabilitiesEvent } from './events.js';
export { LATENCY_BUCKETS_MS, type CommandStats, type LatencySnapshot, type RetryCounters } from './stats.js';
export { systemClock, realSleep, type Clock, type Sleep } from './clock.js';
export { Producer, type ProducerOptions, type ProducerClient, type LingerOptions, type SendOptions, type ProducerStats } from './producer.js';
export { Consumer, type ConsumerOptions, type ConsumerClient, type ConsumerStats } from './consumer.js';
