/** External programs the protocol tests drive (python3, swaks, fetchmail): is one installed? */
import { execFileSync } from 'node:child_process';

export function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
