/** IDLE (RFC 2177): changes are pushed while idling; keep-alives every imap.idleKeepaliveMs. */
import { bi } from '../../lib/errors.js';
import type { Session } from '../session.js';
import { ok, type Outcome } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

async function done(s: Session, line: string): Promise<Outcome> {
  await s.stopIdle();
  if (line.trim().toUpperCase() !== 'DONE') {
    return { kind: 'no', bad: true, text: bi('Cần DONE để kết thúc IDLE', 'Expected DONE') };
  }
  return ok(bi('Kết thúc IDLE', 'IDLE terminated'));
}

export const idleCommand: CommandSpec<'IDLE'> = {
  states: AUTH,
  caps: () => ['IDLE'],
  async run(s) {
    await s.notify(null, true);
    await s.write(`+ ${bi('Đang chờ', 'idling')}\r\n`);
    s.startIdle();
    return { kind: 'line', onLine: (line) => done(s, line) };
  },
};
