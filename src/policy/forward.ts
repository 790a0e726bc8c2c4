/**
 * R-POL-5: no automatic forwarding from an official mailbox to mailboxes not issued by a state
 * agency, or the reverse. Allowed: the local domains and config.policy.forwardAllowlist
 * (exact domains, or "*.suffix" for the suffix and every sub-domain).
 */
import type { Config } from '../config/schema.js';
import { bi, MailError } from '../lib/errors.js';

export function domainOf(address: string): string {
  const a = address.trim().replace(/^<|>$/g, '');
  const at = a.lastIndexOf('@');
  return (at < 0 ? '' : a.slice(at + 1)).toLowerCase().replace(/\.$/, '');
}

export function forwardAllowed(domain: string, config: Readonly<Config>): boolean {
  const d = domain.toLowerCase();
  if (!d) return false;
  if (config.domains.includes(d)) return true;
  for (const raw of config.policy.forwardAllowlist) {
    const e = raw.toLowerCase().trim();
    if (e.startsWith('*.')) {
      const suffix = e.slice(2);
      if (d === suffix || d.endsWith(`.${suffix}`)) return true;
    } else if (d === e) return true;
  }
  return false;
}

/**
 * For the accounts side when a forwarding rule is created: null if forwarding to `address`
 * is allowed, else a MailError('POLICY_REJECT') with a bilingual reason.
 */
export function checkForwardTarget(address: string, config: Readonly<Config>): MailError | null {
  const d = domainOf(address);
  if (!/^[^@\s]+@[^@\s]+$/.test(address.trim())) {
    return new MailError('INVALID_INPUT', bi(`Địa chỉ chuyển tiếp không hợp lệ: ${address}`, `Invalid forwarding address: ${address}`));
  }
  if (forwardAllowed(d, config)) return null;
  return new MailError(
    'POLICY_REJECT',
    bi(
      `Không được tự động chuyển tiếp thư công vụ tới hộp thư ngoài cơ quan nhà nước (${d})`,
      `Official mail may not be forwarded automatically to a mailbox outside state agencies (${d})`,
    ),
    { rule: 'auto-forward', address },
  );
}
