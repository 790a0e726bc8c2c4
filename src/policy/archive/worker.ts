/** Worker-thread entry: inspects one archive per message and posts the report back. */
import { parentPort } from 'node:worker_threads';
import { inspectFile, type InspectLimits } from './inspect.js';

export interface InspectRequest {
  id: number;
  bytes: Uint8Array;
  name: string;
  extensions: string[];
  limits: InspectLimits;
}

parentPort?.on('message', (req: InspectRequest) => {
  const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
  void inspectFile(bytes, req.name, new Set(req.extensions), req.limits).then(
    (report) => parentPort?.postMessage({ id: req.id, report }),
    (e: unknown) => parentPort?.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) }),
  );
});

parentPort?.postMessage({ ready: true });
