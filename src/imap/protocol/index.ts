/** The public surface of the IMAP protocol layer (pure: no sockets, no store). */
export type * from './types.js';
export { createCommandParser } from './parser.js';
export { decodeMailboxUtf7, encodeMailboxUtf7 } from './utf7.js';
export { parseDateTime } from './grammar.js';
export * from './encode.js';
