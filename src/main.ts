/**
 * Process entry: `node dist/main.js <command>` or, from source, `node --import tsx src/main.ts`.
 * bin/buudien.js does the same with dist/cli/main.js.
 */
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
