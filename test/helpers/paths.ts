import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The external Avro conformance corpus (shared/, beside the checkout). */
export const CONFORMANCE = join(ROOT, '..', 'shared', 'testdata', 'avro-conformance');
export const FIXTURES = join(ROOT, 'fixtures');
