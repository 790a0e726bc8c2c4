/** POP3 (RFC 1939 + CAPA, STLS, AUTH PLAIN, RFC 3206 codes). */
export { createPop3Service, type Pop3Deps } from './server.js';
export { MaildropLocks, Pop3Session, type Pop3Store } from './session.js';
export { MessageEncoder, parseCommand, type Pop3Command } from './protocol.js';
