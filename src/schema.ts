// --json-schema enforced: the schema is compiled once with Ajv (a JSON Schema validator; drafts
// 07 and 2020-12 by the schema's `$schema`), so a file that is not valid JSON Schema is a usage
// error before any request, and each answer's parsed JSON is checked against it. Gemini's own
// keywords (propertyOrdering, …) are allowed (strict off); formats are not checked (no
// ajv-formats: the API does not promise them either).

import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { UsageError } from './errors.js';

const require = createRequire(import.meta.url);

/** Undefined when the value fits, else the validator's message. */
export type SchemaCheck = (value: unknown) => string | undefined;

export function compileSchema(schema: object, path = 'the schema'): SchemaCheck {
  const is2020 = String((schema as { $schema?: unknown }).$schema ?? '').includes('2020-12');
  const AjvClass = (is2020 ? require('ajv/dist/2020') : require('ajv')).default as typeof import('ajv').default;
  const ajv = new AjvClass({ strict: false, allErrors: false, validateFormats: false });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    throw new UsageError(`The file given to \`--json-schema\` is not a valid JSON Schema: ${path} (${(e as Error).message})`);
  }
  return (value) => (validate(value) ? undefined : ajv.errorsText(validate.errors, { dataVar: 'answer' }));
}
