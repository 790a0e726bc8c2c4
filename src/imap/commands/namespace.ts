/** NAMESPACE (RFC 2342): one personal namespace, empty prefix, "/" separator (CLIENT-NOTES: Outlook). */
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

export const namespaceCommand: CommandSpec<'NAMESPACE'> = {
  states: AUTH,
  caps: () => ['NAMESPACE'],
  async run(s) {
    await s.untagged('NAMESPACE (("" "/")) NIL NIL');
    return ok();
  },
};
