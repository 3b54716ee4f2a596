export * from './limits.js';
export * from './validate.js';
export * from './frame.js';
export * from './commands.js';
export * from './batch.js';
export * from './replies.js';
export { CLAIM_OWNER_PATTERN, CLAIM_OWNER_RULE, MIN_CLAIM_TTL_MS, MAX_CLAIM_TTL_MS, isClaimOwner, isClaimTtl } from './claims.js';
export { serverError } from './server-errors.js';
export { encodeAuth, isAuthenticated, passwordProblem, userNameProblem, MAX_PASSWORD_CHARS } from './auth.js';
