/**
 * The policy pipeline's contract (DESIGN.md): rules return abstract verdicts; the pipeline
 * applies each rule's configured action (reject | flag | quarantine | off) and owns the replies.
 * SMTP (inbound and submission), forwarding and automatic replies all go through `Pipeline`.
 */
import type { ParsedMessage } from '../mail/types.js';

export type PolicyDirection = 'inbound' | 'submission' | 'forward' | 'auto-reply';

export interface PolicyContext {
  direction: PolicyDirection;
  clientIp: string | null;
  /** Signed-in account's address (submission), else null. */
  account: string | null;
  /** Envelope sender ("" for the null sender). */
  sender: string;
  /** Envelope recipients accepted so far. */
  recipients: string[];
}

export interface PolicyMessage {
  raw: Buffer;
  parsed: ParsedMessage;
}

/** A wire reply the SMTP layer sends as is (enhanced code per RFC 3463, bilingual text). */
export interface PolicyReply {
  code: number;
  enhanced: string;
  text: string;
}

/** What a rule says about a message; `off` rules are never run. */
export type RuleVerdict =
  /** `headers`: informational header lines to add even when nothing matched (spam score). */
  | { kind: 'pass'; headers?: string[] }
  /**
   * The rule matched: `finding` is the short label for headers and the log, e.g. `encrypted-archive; file="a.zip"`.
   * `extraFindings`: more findings of the same rule (several files); `headers`: informational header lines;
   * `escalate`: the hit is severe enough to refuse even when the rule's action is `flag` (spam over rejectScore).
   */
  | {
      kind: 'hit';
      finding: string;
      reply?: PolicyReply;
      subjectTag?: string;
      junk?: boolean;
      extraFindings?: string[];
      headers?: string[];
      escalate?: boolean;
    }
  /** The rule could not decide (scanner down, archive over limits): fail closed unless configured otherwise. */
  | { kind: 'error'; detail: string; reply?: PolicyReply };

export interface Rule {
  readonly name: string;
  /** Stages at which the rule looks; most rules only need 'data'. */
  readonly stages: ReadonlyArray<'mail' | 'rcpt' | 'data'>;
  check(ctx: PolicyContext, msg: PolicyMessage | null, recipient?: string): Promise<RuleVerdict>;
  /** Told when a message passed the whole pipeline (sending limits count it). */
  accepted?(ctx: PolicyContext, msg: PolicyMessage): void;
  /** Told once the message's DATA stage is decided, whatever the outcome (after `accepted` when accepted). */
  settled?(ctx: PolicyContext, msg: PolicyMessage): void;
}

export type PipelineAction = 'accept' | 'reject' | 'defer' | 'quarantine';

export interface PipelineResult {
  action: PipelineAction;
  /** The reply for reject/defer (and for quarantine the SMTP layer still answers 250). */
  reply: PolicyReply | null;
  /** Header lines to prepend, e.g. "X-Buudien-Policy: encrypted-archive; file=\"a.zip\"". */
  headers: string[];
  /** Tag to put in front of the Subject (flagged encrypted archives). */
  subjectTag: string | null;
  /** Deliver into Junk instead of INBOX. */
  junk: boolean;
  /** "rule: action finding" lines for the send log. */
  findings: string[];
}

export interface Pipeline {
  checkMailFrom(ctx: PolicyContext): Promise<PipelineResult>;
  checkRecipient(ctx: PolicyContext, recipient: string): Promise<PipelineResult>;
  checkMessage(ctx: PolicyContext, msg: PolicyMessage): Promise<PipelineResult>;
  /** Teach the spam filter (rspamd /learnspam, /learnham); a no-op without config.policy.rspamd. IMAP calls it through app.ts. */
  learn?(kind: 'spam' | 'ham', raw: Buffer): Promise<void>;
}
