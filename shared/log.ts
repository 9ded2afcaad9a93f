// Structured JSON logs that Cloud Logging understands (`severity`, `message`,
// `logging.googleapis.com/trace`), one line each; readable locally.
import { pino } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  /** Someone must act (Cloud Logging ALERT): e.g. a table another engine changed beyond what we write. */
  alert: 'ALERT',
  fatal: 'CRITICAL',
};

/** pino's levels plus `alert` (55, between error and fatal). */
export type Logger = pino.Logger<'alert'>;

export function createLogger(
  options: { level?: LogLevel; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? (process.env['LOG_LEVEL'] as LogLevel | undefined) ?? 'info';
  return pino(
    {
      level,
      customLevels: { alert: 55 },
      messageKey: 'message',
      base: options.name === undefined ? {} : { component: options.name },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }),
      },
    },
    options.destination ?? process.stdout,
  );
}

/** Trace fields from an incoming request (X-Cloud-Trace-Context), for log correlation. */
export function traceFields(
  projectId: string,
  header: string | undefined,
): Record<string, string> | Record<string, never> {
  if (header === undefined || header === '') return {};
  const traceId = header.split('/')[0];
  if (traceId === undefined || traceId === '') return {};
  return { 'logging.googleapis.com/trace': `projects/${projectId}/traces/${traceId}` };
}
