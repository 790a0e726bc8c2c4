/** A logger for tests whose JSON lines are kept, to assert what the server logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/lib/log.js';

export function keptLog(): { lines: Array<Record<string, unknown>>; log: Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination: sink }) };
}
