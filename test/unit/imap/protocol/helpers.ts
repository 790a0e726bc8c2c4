import { createCommandParser } from '../../../../src/imap/protocol/parser.js';
import type { CommandParser, ImapCommand, ParseEvent, ParserLimits } from '../../../../src/imap/protocol/types.js';

export const LIMITS: ParserLimits = {
  maxLineBytes: 64 * 1024,
  maxLiteralBytes: 1024 * 1024,
  maxNestingDepth: 16,
  maxItems: 1000,
};

export function parser(over: Partial<ParserLimits> = {}): CommandParser {
  return createCommandParser({ ...LIMITS, ...over });
}

/**
 * Feed input (all at once, or as the given chunks) and collect every event, resuming after
 * each command the way a session does. `line` events resume as well.
 */
export function feed(input: string | Buffer | ReadonlyArray<string | Buffer>, over: Partial<ParserLimits> = {}): ParseEvent[] {
  const p = parser(over);
  const chunks = typeof input === 'string' || Buffer.isBuffer(input) ? [input] : input;
  const out: ParseEvent[] = [];
  const drain = (evs: ParseEvent[]): void => {
    let batch = evs;
    for (;;) {
      out.push(...batch);
      if (!p.paused) return;
      batch = p.resume();
    }
  };
  for (const c of chunks) drain(p.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  return out;
}

/** Parse one complete command line (CRLF added) and return the command; fails on anything else. */
export function cmd(line: string, over: Partial<ParserLimits> = {}): ImapCommand {
  const evs = feed(line + '\r\n', over).filter((e) => e.kind !== 'continue');
  if (evs.length !== 1 || evs[0]?.kind !== 'command') {
    throw new Error(`expected one command for ${JSON.stringify(line)}, got ${JSON.stringify(evs)}`);
  }
  return evs[0].command;
}

/** Parse one line expected to be refused; returns the error event. */
export function refused(line: string, over: Partial<ParserLimits> = {}): Extract<ParseEvent, { kind: 'error' }> {
  const evs = feed(line + '\r\n', over).filter((e) => e.kind !== 'continue');
  const e = evs[0];
  if (evs.length !== 1 || e?.kind !== 'error') {
    throw new Error(`expected one error for ${JSON.stringify(line)}, got ${JSON.stringify(evs)}`);
  }
  return e;
}

export const ranges = (...r: Array<[number | '*', number | '*']>) => ({ kind: 'ranges' as const, ranges: r.map(([from, to]) => ({ from, to })) });
export const box = (raw: string, name = raw) => ({ raw, name });
