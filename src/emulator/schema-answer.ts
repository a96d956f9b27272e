// The emulator's structured output: with a responseJsonSchema it answers a JSON value shaped by
// the schema, as the real service does (an enum takes its first value, a string the answer
// text, a number 1, an array one item, an object its required properties or else all of them).
// `[[emu:schemabad]]` answers valid JSON that breaks the schema instead.

type Schema = { type?: string | string[]; enum?: unknown[]; const?: unknown; properties?: Record<string, Schema>; required?: string[]; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[] };

export function valueFor(schema: Schema | undefined, text: string, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return text;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt?.length) return valueFor(alt[0], text, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = schema.properties ?? {};
      const keys = schema.required?.length ? schema.required : Object.keys(props);
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = valueFor(props[k], text, depth + 1);
      return out;
    }
    case 'array':
      return [valueFor(schema.items, text, depth + 1)];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      return text;
    default:
      return schema.properties ? valueFor({ ...schema, type: 'object' }, text, depth) : text;
  }
}

/** JSON that parses but does not fit an object schema (wrong types everywhere). */
export function breaking(schema: Schema | undefined): unknown {
  const type = Array.isArray(schema?.type) ? schema!.type[0] : schema?.type;
  if (type === 'object' || schema?.properties) return { unexpected: [1, 2, 3] };
  return type === 'string' ? 12345 : 'not what the schema asks';
}
