import { encodeFrame } from './frame.js';

/**
 * `AUTH <username> <password>` of Walrus's authentication design. The node
 * splits the command with `splitn(3, ' ')` after `trim_end()`, so:
 * the user name cannot contain a space; the password is the rest of the
 * line (inner and leading spaces are kept) and can never end in
 * whitespace (it would be trimmed away and the login would fail).
 *
 * Problems are described without quoting the password, so they can be
 * shown and logged.
 */

/** Printable, no whitespace (the field separator), no `:` (the users file's separator). */
const USER = /^[^\s:\p{Cc}]{1,128}$/u;
/** Rust's `char::is_whitespace` (what `trim_end` removes). */
const TRAILING_SPACE = /[\s\u0085]$/u;
export const MAX_PASSWORD_CHARS = 1024;

export function userNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !USER.test(name)) return 'a user name is 1 to 128 printable characters with no spaces and no ":"';
  return undefined;
}

export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== 'string' || password.length === 0) return 'the password must be a non-empty string';
  if (password.length > MAX_PASSWORD_CHARS) return `the password is longer than ${MAX_PASSWORD_CHARS} characters`;
  if (TRAILING_SPACE.test(password)) return 'the password ends in whitespace, which the node trims away (so it could never match)';
  if (/[\r\n]/.test(password)) return 'the password contains a line break';
  return undefined;
}

/** The AUTH frame; the caller has checked both fields. */
export function encodeAuth(username: string, password: string): Buffer {
  return encodeFrame(`AUTH ${username} ${password}`);
}

/** True for a successful AUTH reply: `OK authenticated`, possibly followed by a token (a later upstream revision). */
export function isAuthenticated(reply: string): boolean {
  return reply === 'OK authenticated' || reply.startsWith('OK authenticated ');
}
