/**
 * R-POL-3 with the real ClamAV daemon: the test starts clamd itself (temp clamd.conf, a Unix
 * socket in a temp dir, a signature database made here: the EICAR string's MD5:size:name, no
 * download), sends EICAR through SMTP and expects 550 5.7.1 naming the signature; with clamd
 * stopped, mail is deferred with 451 4.7.0. Skips loudly when clamd is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { EICAR, mimeMessage } from '../unit/policy/fixtures.js';
import { addUser, send } from './policy-helpers.js';

const CLAMD = ['/usr/sbin/clamd', '/usr/bin/clamd'].find((p) => existsSync(p)) ?? (spawnSync('which', ['clamd']).stdout?.toString().trim() || null);
if (!CLAMD) console.warn('SKIP policy-clamd: clamd is not installed (apt-get install clamav-daemon); the real-clamd test did not run');

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: socket });
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('zPING\0'));
    s.on('data', (d) => {
      resolve(d.toString().startsWith('PONG'));
      s.destroy();
    });
  });
}

describe.skipIf(!CLAMD)('malware with the real clamd', () => {
  let dir = '';
  let socket = '';
  let clamd: ChildProcess | null = null;
  let app: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-clamd-'));
    mkdirSync(path.join(dir, 'db'));
    socket = path.join(dir, 'clamd.sock');
    const md5 = createHash('md5').update(EICAR).digest('hex');
    writeFileSync(path.join(dir, 'db', 'buudien-test.hdb'), `${md5}:${EICAR.length}:Buudien-Test-EICAR\n`);
    writeFileSync(
      path.join(dir, 'clamd.conf'),
      [`LocalSocket ${socket}`, `DatabaseDirectory ${path.join(dir, 'db')}`, 'Foreground yes', `TemporaryDirectory ${dir}`, `PidFile ${path.join(dir, 'clamd.pid')}`, 'AlertExceedsMax yes', ''].join('\n'),
    );
    // Wait for the socket to appear and answer PING: each directory or output event is a chance.
    const ready = new Promise<void>((resolve, reject) => {
      let done = false;
      const attempt = (): void => {
        if (done || !existsSync(socket)) return;
        void ping(socket).then((ok) => {
          if (ok && !done) {
            done = true;
            watcher.close();
            resolve();
          }
        });
      };
      const watcher = watch(dir, attempt);
      clamd = spawn(CLAMD as string, [`--config-file=${path.join(dir, 'clamd.conf')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const onOut = (d: Buffer): void => {
        output += d.toString();
        attempt();
      };
      clamd.stdout?.on('data', onOut);
      clamd.stderr?.on('data', onOut);
      clamd.on('exit', (code) => {
        if (!done) {
          done = true;
          watcher.close();
          reject(new Error(`clamd exited with ${String(code)}: ${output.slice(-500)}`));
        }
      });
    });
    await ready;
    app = await startApp({ policy: { clamd: { socket } } });
    await addUser(app.store, 'longnv@example.gov.vn');
  });

  afterAll(async () => {
    await app?.stop();
    if (clamd && clamd.exitCode === null) {
      const exited = new Promise((resolve) => clamd?.once('exit', resolve));
      clamd.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('EICAR as an attachment → 550 5.7.1 naming the signature; a clean message passes', async () => {
    const bad = await send(app, mimeMessage({ subject: 'eicar', attachments: [{ name: 'eicar.txt', data: EICAR, contentType: 'text/plain' }] }));
    expect(bad.code).toBe(550);
    expect(bad.response).toContain('5.7.1');
    expect(bad.response).toContain('Buudien-Test-EICAR');
    expect(bad.response).toContain('malware');
    const rows = await app.store.searchSendLog({ recipient: 'longnv@example.gov.vn' });
    expect(rows[0]?.findings.some((f) => f.startsWith('malware: reject malware; signature="Buudien-Test-EICAR'))).toBe(true);
    const good = await send(app, mimeMessage({ subject: 'clean', attachments: [{ name: 'ok.txt', data: 'Xin chào' }] }));
    expect(good).toMatchObject({ ok: true, code: 250 });
  });

  it('clamd stopped → 451 4.7.0 (fail closed)', async () => {
    const exited = new Promise((resolve) => clamd?.once('exit', resolve));
    clamd?.kill('SIGTERM');
    await exited;
    rmSync(socket, { force: true });
    const r = await send(app, mimeMessage({ subject: 'while down' }));
    expect(r.code).toBe(451);
    expect(r.response).toContain('4.7.0');
  });
});
