export { ERROR_CODES, isErrorCode, type ErrorCode } from './codes.js';
export {
  WalrusError,
  serializeError,
  deserializeError,
  isRetriable,
  type ErrorContext,
  type WalrusErrorOptions,
  type SerializedError,
} from './walrus-error.js';
