// The deployed entry points, registered with the Functions Framework under their public names.
import * as ff from '@google-cloud/functions-framework';
import { compactHandler } from './compact.ts';
import { ingestHandler } from './ingest.ts';
import { FUNCTION_NAMES } from './names.ts';
import { tickHandler } from './tick.ts';

ff.cloudEvent(FUNCTION_NAMES.ingest, ingestHandler);
ff.http(FUNCTION_NAMES.tick, tickHandler);
ff.http(FUNCTION_NAMES.compact, compactHandler);
