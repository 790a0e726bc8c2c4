/** STARTTLS (RFC 9051 §6.2.1): only on the plain listener, before sign-in. */
import { bi } from '../../lib/errors.js';
import { NOT_AUTH, type CommandSpec } from './spec.js';

export const starttlsCommand: CommandSpec<'STARTTLS'> = {
  states: NOT_AUTH,
  caps: (s) => (s.secure ? [] : ['STARTTLS']),
  async run(s) {
    if (s.secure) return { kind: 'no', bad: true, text: bi('Kết nối đã được mã hóa', 'TLS is already active') };
    return { kind: 'ok', text: bi('Bắt đầu TLS', 'Begin TLS negotiation now'), then: 'starttls' };
  },
};
