// The emulator's structured output: a JSON value of the types the schema asks for, as the real
// service answers. Both schema dialects are read: `responseSchema` (the API's OpenAPI subset, with
// the SDK's upper-case types OBJECT/ARRAY/STRING/INTEGER/NUMBER/BOOLEAN, `nullable`, `enum`,
// `propertyOrdering`; properties in alphabetical order unless `propertyOrdering` says otherwise,
// as the service orders them) and `responseJsonSchema` (JSON Schema: lower-case types, type
// arrays, const, $ref/$defs, prefixItems; properties in the order the schema lists them).
// Values are deterministic: a string is the answer text, a number the number the answer computed
// (else 1, or the minimum), an enum the one value the prompt names (else the first), an array
// minItems (at least one) items, an object every property. `[[emu:schemabad]]` answers valid
// JSON that breaks the schema instead.

export type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  propertyOrdering?: string[];
  required?: string[];
  items?: Schema | Schema[];
  prefixItems?: Schema[];
  minItems?: number | string;
  maxItems?: number | string;
  minimum?: number;
  maximum?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  $ref?: string;
  $defs?: Record<string, Schema>;
  definitions?: Record<string, Schema>;
};

export interface SchemaContext {
  /** The answer text strings take. */
  text: string;
  /** The prompt an enum value is picked from. */
  prompt: string;
  /** A number the answer computed (e.g. "two times 21" -> 42). */
  number?: number;
  /** JSON Schema orders properties as listed; the API's Schema alphabetically. */
  dialect: 'json-schema' | 'openapi';
}

/** The one value of `values` the prompt names (whole word, any case), else the first. */
export function enumChoice(values: readonly unknown[], prompt: string): unknown {
  const named = values.filter((v) => typeof v === 'string' && v !== '' && new RegExp(`\\b${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(prompt));
  return named.length === 1 ? named[0] : values[0];
}

function typeOf(s: Schema): string | undefined {
  const t = Array.isArray(s.type) ? s.type.find((x) => String(x).toLowerCase() !== 'null') : s.type;
  return t === undefined ? undefined : String(t).toLowerCase();
}

export function valueFor(schema: Schema | undefined, ctx: SchemaContext): unknown {
  return value(schema, ctx, schema, 0);
}

function value(s: Schema | undefined, ctx: SchemaContext, root: Schema | undefined, depth: number): unknown {
  if (!s || typeof s !== 'object' || depth > 12) return ctx.text;
  if (s.$ref) {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(s.$ref)?.[1];
    const target = name ? (root?.$defs ?? root?.definitions)?.[decodeURIComponent(name)] : s.$ref === '#' ? root : undefined;
    return value(target, ctx, root, depth + 1);
  }
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return enumChoice(s.enum, ctx.prompt);
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return value(alt.find((a) => typeOf(a) !== 'null') ?? alt[0], ctx, root, depth + 1);
  if (s.allOf?.length) return value(Object.assign({}, ...s.allOf) as Schema, ctx, root, depth + 1);
  switch (typeOf(s)) {
    case 'object': {
      const props = s.properties ?? {};
      const names = Object.keys(props);
      const order = s.propertyOrdering?.length ? [...s.propertyOrdering, ...names.filter((n) => !s.propertyOrdering!.includes(n))]
        : ctx.dialect === 'openapi' ? [...names].sort() : names;
      const out: Record<string, unknown> = {};
      for (const k of order) if (k in props) out[k] = value(props[k], ctx, root, depth + 1);
      return out;
    }
    case 'array': {
      if (s.prefixItems?.length) return s.prefixItems.map((p) => value(p, ctx, root, depth + 1));
      const item = Array.isArray(s.items) ? s.items[0] : s.items;
      const min = Number(s.minItems ?? 0);
      const max = s.maxItems === undefined ? Infinity : Number(s.maxItems);
      const n = Math.min(Math.max(1, min), max);
      return Array.from({ length: n }, () => value(item, ctx, root, depth + 1));
    }
    case 'integer':
    case 'number': {
      let n = ctx.number ?? 1;
      if (typeof s.minimum === 'number' && n < s.minimum) n = s.minimum;
      if (typeof s.maximum === 'number' && n > s.maximum) n = s.maximum;
      return typeOf(s) === 'integer' ? Math.round(n) : n;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      if (s.format === 'date-time') return '2025-01-01T00:00:00Z';
      if (s.format === 'date') return '2025-01-01';
      return ctx.text;
    default:
      return s.properties ? value({ ...s, type: 'object' }, ctx, root, depth) : ctx.text;
  }
}

/** The enum values of a schema meant for `text/x.enum` output (either dialect), if it has them. */
export function enumValues(schema: Schema | undefined): unknown[] | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum;
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt?.length && alt.every((a) => a.const !== undefined)) return alt.map((a) => a.const);
  return undefined;
}

/** JSON that parses but does not fit an object schema (wrong types everywhere). */
export function breaking(schema: Schema | undefined): unknown {
  const type = schema ? typeOf(schema) : undefined;
  if (type === 'object' || schema?.properties) return { unexpected: [1, 2, 3] };
  return type === 'string' ? 12345 : 'not what the schema asks';
}
