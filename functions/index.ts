// The deployed entry points, registered with the Functions Framework under their public names.
import * as ff from '@google-cloud/functions-framework';
import { describeError } from '../shared/errors.ts';
import { compactHandler } from './compact.ts';
import { ingestHandler } from './ingest.ts';
import { FUNCTION_NAMES } from './names.ts';
import { reconcileHandler } from './reconcile.ts';
import { getConfig } from './runtime.ts';
import { tickHandler } from './tick.ts';

// A bad setting or join spec stops the instance at start-up with every reason (the revision fails to
// start and says why), rather than failing each event it is sent.
try {
  getConfig();
} catch (err) {
  console.error(`streamjoin: refusing to start: ${describeError(err)}`);
  process.exit(1);
}

ff.cloudEvent(FUNCTION_NAMES.ingest, ingestHandler);
ff.http(FUNCTION_NAMES.tick, tickHandler);
ff.http(FUNCTION_NAMES.compact, compactHandler);
ff.http(FUNCTION_NAMES.reconcile, reconcileHandler);
