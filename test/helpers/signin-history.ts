/** The store's sign-in history in memory, for the auth tests' fake stores to extend. */
import type { SignInEntry, SignInRecord } from '../../src/store/port.js';

export class FakeSignInHistory {
  signIns: SignInRecord[] = [];
  async recordSignIn(e: SignInEntry): Promise<void> {
    this.signIns.push({ ...e, via: e.via ?? null, opened: e.opened ?? null, id: this.signIns.length + 1, firstAt: e.at, count: 1 });
  }
  async listSignIns(accountId: number, opts: { since?: Date; ok?: boolean; limit?: number } = {}): Promise<SignInRecord[]> {
    return this.signIns
      .filter((r) => r.accountId === accountId && (opts.since === undefined || r.at >= opts.since) && (opts.ok === undefined || r.ok === opts.ok))
      .sort((a, b) => b.at.getTime() - a.at.getTime() || b.id - a.id)
      .slice(0, opts.limit ?? 50);
  }
  async signedInFrom(accountId: number, network: string, since: Date): Promise<boolean> {
    return this.signIns.some((r) => r.accountId === accountId && r.network === network && r.ok && r.at >= since);
  }
}
