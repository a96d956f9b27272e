// How a job's lines become hashed records, for the run, its content check and `gempipe verify`
// alike: the parser of its input format (and CSV's fields), --attach's resolver (attachments
// read and hashed before the record is), and the hash — RequestSpec.hashOf(), which is hash(prompt)
// for a text record.

import { createAttachmentResolver, inlineLimitOf } from '../media/resolve.js';
import type { InputRecord } from '../records.js';
import { parserOf } from '../stages/line-parsers.js';
import type { InputReaderOptions } from '../stages/read-inputs.js';
import type { JobShape, RequestSpec } from './spec.js';

export function recordReading(
  shape: Partial<JobShape> & { keep?: readonly string[]; inlineMax?: number; concurrency?: number },
  spec: RequestSpec,
  warn?: (line: string) => void,
): Pick<InputReaderOptions, 'parse' | 'csv' | 'hash' | 'resolve'> {
  const attach = shape.attach ?? [];
  return {
    ...parserOf({ ...shape, model: spec.shape.model }, warn),
    hash: (prompt: string, rec?: InputRecord) => (rec ? spec.hashOf(rec) : spec.hash(prompt)),
    resolve: attach.length > 0 ? createAttachmentResolver({ inlineMax: inlineLimitOf(shape) }) : undefined,
  };
}
