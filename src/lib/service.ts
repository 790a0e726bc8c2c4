/** What app.ts starts and stops: a listener-owning part of the server (SMTP, IMAP, …) or a job runner. */
export interface BoundListener {
  /** The config key under `listeners` ("smtp", "imaps", …) or a job name. */
  name: string;
  host: string;
  port: number;
}

export interface Service {
  readonly name: string;
  /** Start listening; resolves with the actual addresses (port 0 → the port picked). */
  start(): Promise<BoundListener[]>;
  /** Stop accepting, let in-flight work finish (bounded), close. */
  stop(): Promise<void>;
  /** false when a listener has failed (used by /healthz). */
  healthy(): boolean;
}
