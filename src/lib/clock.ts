/** Time source; injected everywhere so lifecycle jobs, TOTP and queues are testable. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can move by hand. */
export class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(d: Date): void {
    this.current = new Date(d.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Vietnam's time (UTC+7 all year, no daylight saving), to the minute: "2026-11-23 07:05 (UTC+7)". How users read times. */
export function vietnamTime(d: Date): string {
  return `${vietnamMinutes(d)} (UTC+7)`;
}

/** vietnamTime without the zone, for a column whose header names it: "2026-11-23 07:05". */
export function vietnamMinutes(d: Date): string {
  const t = new Date(d.getTime() + 7 * 3600_000).toISOString();
  return `${t.slice(0, 10)} ${t.slice(11, 16)}`;
}
