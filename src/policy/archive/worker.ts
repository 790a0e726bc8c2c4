/**
 * The inspection child process (archive/pool.ts forks it): inspects one archive per message
 * from its parent and sends the report back; ends when the parent's channel closes.
 */
import { inspectFile, type InspectLimits } from './inspect.js';

export interface InspectRequest {
  id: number;
  bytes: Uint8Array;
  name: string;
  extensions: string[];
  limits: InspectLimits;
}

if (process.send) {
  const reply = (m: object): void => {
    process.send?.(m);
  };
  process.on('message', (req: InspectRequest) => {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    void inspectFile(bytes, req.name, new Set(req.extensions), req.limits).then(
      (report) => reply({ id: req.id, report }),
      (e: unknown) => reply({ id: req.id, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  reply({ ready: true });
}
