// What the package entry takes from the client: the three classes and their
// option types, without the rest of the client's index.
export { WalrusClient, type CallOptions, type ClientStats } from './cluster/walrus-client.js';
export type { WalrusClientOptions, PoolOptions, RetryOptions, BreakerOptions } from './cluster/options.js';
export { Producer, type ProducerOptions, type SendOptions, type LingerOptions } from './producer/producer.js';
export { Consumer, type ConsumerOptions } from './consumer/consumer.js';
