// Registered function names are public API (deploy, local stack, tests): declared here once.
export const FUNCTION_NAMES = {
  ingest: 'ingest',
  tick: 'tick',
  compact: 'compact',
  reconcile: 'reconcile',
} as const;
export type FunctionName = (typeof FUNCTION_NAMES)[keyof typeof FUNCTION_NAMES];
