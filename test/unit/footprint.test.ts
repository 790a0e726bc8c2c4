/**
 * What a running server loads, and what it must not: code it never runs still costs memory
 * (issue 3's memory target). mailauth's package entry loads BIMI and VMC (undici, the @peculiar
 * X.509 parsers, fast-xml-parser) next to SPF, DKIM and DMARC; the server imports the three
 * checks alone (smtp/authresults.ts, smtp/dkim.ts). selfsigned (node-forge) is loaded
 * only on the start that makes the self-signed pair (net/tls.ts), and node-forge's ASN.1 reader
 * only when a PDF with a signature dictionary is checked (policy/pdf-signature.ts).
 *
 * The server runs in a child process (a fresh module cache) and reports the CommonJS modules it
 * loaded; the test checks both sides, so it fails if the list stops showing what was loaded.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/log.js';
import { loadTlsOptions } from '../../src/net/tls.js';
import { testDir } from '../helpers/app.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

/** Start the real server (every listener, port 0) on `dir` in a fresh process; the packages it loaded. */
async function packagesLoadedByServer(dir: string): Promise<string[]> {
  const helper = pathToFileURL(path.join(root, 'test/helpers/app.ts')).href;
  const script = `
    import { createRequire } from 'node:module';
    const { startApp } = await import(${JSON.stringify(helper)});
    const app = await startApp({ smtp: { checkAuthentication: true } }, { dir: ${JSON.stringify(dir)} });
    await app.stop();
    const names = new Set();
    for (const file of Object.keys(createRequire(import.meta.url).cache)) {
      const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(.*)$/.exec(file);
      if (m) names.add(m[1] + '/' + m[2]);
    }
    process.stdout.write(JSON.stringify([...names]));
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as string[];
}

describe('what the server loads', () => {
  const dir = testDir('buudien-footprint-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads mailauth SPF, DKIM and DMARC, but not its BIMI and VMC code, nor selfsigned once the pair exists', async () => {
    // The pair a first start would make, made beforehand: this start finds it.
    loadTlsOptions({ tls: { certFile: null, keyFile: null, minVersion: 'TLSv1.2' }, organization: { hostname: 'mail.example.gov.vn' } }, dir, silentLogger());
    const loaded = await packagesLoadedByServer(dir);
    const has = (prefix: string): boolean => loaded.some((f) => f.startsWith(prefix));
    // Loaded: the checks the server runs (so the list does show modules imported from ESM).
    expect(has('mailauth/lib/spf/')).toBe(true);
    expect(has('mailauth/lib/dkim/verify.js')).toBe(true);
    expect(has('mailauth/lib/dmarc/')).toBe(true);
    expect(has('better-sqlite3/')).toBe(true);
    // Not loaded: the package entry and what only it pulls in.
    expect(loaded).not.toContain('mailauth/lib/mailauth.js');
    for (const pkg of ['mailauth/lib/bimi/', 'undici/', '@peculiar/', '@postalsys/vmc/', 'fast-xml-parser/', 'selfsigned/', 'node-forge/']) {
      expect(has(pkg), pkg).toBe(false);
    }
  }, 60_000);
});
