// Public API of input parsing and validation (pure: no cloud clients; adapters pass bytes in).

export {
  FILE_ISSUE_CODES,
  type FileIssueCode,
  formatPath,
  type Issue,
  type IssueCode,
  type IssuePath,
  RECORD_ISSUE_CODES,
  type RecordIssueCode,
  type Result,
} from './issues.ts';
export {
  DEFAULT_MAX_DEPTH,
  FILE_FORMATS,
  type FileFormat,
  type ParseItem,
  type ParseOptions,
  type ParseSummary,
  parseEventFile,
  type RecordPath,
} from './parse-event-file.ts';
export {
  AMOUNT_MAX,
  AMOUNT_MIN,
  EVENT_KINDS,
  type EventKind,
  MAX_STRING_BYTES,
  type Order,
  type Payment,
  type ValidatedEvent,
  validateEvent,
  validateOrder,
  validatePayment,
} from './validate.ts';
