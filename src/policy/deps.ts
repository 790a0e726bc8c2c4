import type { Config, RuleAction } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Store } from '../store/port.js';
import type { PolicyDirection, PolicyReply, Rule } from './types.js';

export interface PolicyDeps {
  config: Readonly<Config>;
  log: Logger;
  store: Store;
  clock: Clock;
}

/** A rule file exports one factory; the registry maps the config name to it. */
export type RuleFactory = (deps: PolicyDeps) => Rule;

export type { RuleAction };

export function reply(code: number, enhanced: string, text: string): PolicyReply {
  return { code, enhanced, text: text.replace(/[\r\n]+/g, ' ') };
}

/** A content rule's refusal: "Thư bị từ chối: VI (quy tắc RULE) / Message refused: EN (rule RULE)", 550 5.7.1 unless told. */
export function refusal(rule: string, vi: string, en: string, code = 550, enhanced = '5.7.1'): PolicyReply {
  return reply(code, enhanced, bi(`Thư bị từ chối: ${vi} (quy tắc ${rule})`, `Message refused: ${en} (rule ${rule})`));
}

/** The send log's direction for a policy direction. */
export function sendDirection(d: PolicyDirection): 'inbound' | 'submission' | 'local' {
  return d === 'inbound' ? 'inbound' : d === 'submission' ? 'submission' : 'local';
}
