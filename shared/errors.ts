// One error type for the whole pipeline: a kind, context that says what was expected and what came,
// and whether the platform should retry (after iceberg-rust `Error` and pyiceberg's commit exceptions).

export const ERROR_KINDS = [
  /** Bad configuration: stops start-up. */
  'config',
  /** Bad input data: quarantined, never retried. */
  'invalid-input',
  /** An object or document that should exist does not. */
  'not-found',
  /** A create-only write found the object already there. */
  'already-exists',
  /** Optimistic concurrency lost: refresh and retry. */
  'conflict',
  /** The outcome of a write is unknown (e.g. timeout after sending): check before retrying. */
  'state-unknown',
  /** A dependency is unavailable or overloaded: retry with backoff. */
  'unavailable',
  /** A crash injected by a test (fault injection). */
  'injected-crash',
  /** A bug or an unexpected state. */
  'internal',
  /**
   * A table another engine changed in a way the pipeline cannot write through (a column it writes
   * dropped or retyped, a transform it cannot compute, format v3): that table stops, its rows wait, an
   * operator acts. Not retryable as is.
   */
  'incompatible-table',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set([
  'conflict',
  'state-unknown',
  'unavailable',
  'injected-crash',
]);

export class StreamjoinError extends Error {
  readonly kind: ErrorKind;
  readonly context: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;

  constructor(
    kind: ErrorKind,
    message: string,
    options: { context?: Record<string, unknown>; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StreamjoinError';
    this.kind = kind;
    this.context = Object.freeze({ ...(options.context ?? {}) });
    this.retryable = options.retryable ?? RETRYABLE_KINDS.has(kind);
  }

  withContext(key: string, value: unknown): StreamjoinError {
    return new StreamjoinError(this.kind, this.message, {
      context: { ...this.context, [key]: value },
      cause: this.cause,
      retryable: this.retryable,
    });
  }
}

/** gRPC status codes that mean "try again" (nodejs-firestore `isRetryableTransactionError`). */
const RETRYABLE_GRPC_CODES = new Set([
  1, // CANCELLED
  2, // UNKNOWN
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

const RETRYABLE_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The one place that decides whether an error is transient. Pure. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof StreamjoinError) return err.retryable;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; status?: unknown; cause?: unknown };
  if (typeof e.code === 'number') {
    // HTTP status from the Storage client (ApiError.code) or a gRPC code from Firestore.
    if (e.code >= 100) return e.code === 408 || e.code === 429 || e.code >= 500;
    return RETRYABLE_GRPC_CODES.has(e.code);
  }
  if (typeof e.code === 'string' && RETRYABLE_NET_CODES.has(e.code)) return true;
  if (e.cause !== undefined && e.cause !== err) return isRetryable(e.cause);
  return false;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
