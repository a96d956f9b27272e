// The models the emulator serves, with what the service's Model resource says about each (token
// limits, supported methods, sampling defaults, `thinking`) and the behaviour that goes with the
// family: whether and how it thinks (budget range, on by default or not, whether thinking can be
// turned off), the minimum tokens for context caching, and embedding dimensions. The catalogue is
// what models.list pages through; any other `gemini-*` name is served too (tests use made-up
// names), its behaviour taken from its family in the name, so a model the catalogue does not list
// works as it did before this catalogue existed.

export interface ModelInfo {
  /** The id, without `models/`. */
  id: string;
  displayName: string;
  description: string;
  version: string;
  inputTokenLimit: number;
  outputTokenLimit: number;
  methods: readonly string[];
  /** A thinking model (the Model resource's `thinking`). */
  thinking: boolean;
  /** Thinks when the request says nothing about thinking. */
  thinksByDefault: boolean;
  /** Smallest non-zero thinking budget; a model that cannot stop thinking refuses budget 0. */
  thinkingMin: number;
  thinkingMax: number;
  canDisableThinking: boolean;
  /** Fewest tokens a cachedContents entry (and an implicit cache hit) may hold. */
  cacheMinTokens: number;
  /** Embedding models: the full vector's dimensions. */
  embeddingDims?: number;
}

const GENERATE_METHODS = ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'] as const;
const EMBED_METHODS = ['embedContent', 'countTextTokens', 'countTokens', 'asyncBatchEmbedContent'] as const;

type Family = 'pro' | 'flash' | 'flash-lite' | 'legacy' | 'embedding';

function familyOf(id: string): Family {
  if (/embedding/.test(id)) return 'embedding';
  if (/^gemini-(1\.|2\.0)/.test(id)) return 'legacy';
  if (/flash-lite/.test(id)) return 'flash-lite';
  if (/pro/.test(id)) return 'pro';
  return 'flash';
}

function titleOf(id: string): string {
  return id.replace(/^gemini-/, 'Gemini ').replace(/-/g, ' ').replace(/\b([a-z])/g, (c) => c.toUpperCase());
}

/** A model's behaviour and resource fields from its family. */
function infoFor(id: string, description?: string): ModelInfo {
  const family = familyOf(id);
  const base = {
    id, displayName: titleOf(id), version: '001',
    description: description ?? `${titleOf(id)}, served by the gempipe emulator.`,
  };
  switch (family) {
    case 'embedding':
      return { ...base, inputTokenLimit: 2048, outputTokenLimit: 1, methods: EMBED_METHODS, thinking: false, thinksByDefault: false, thinkingMin: 0, thinkingMax: 0, canDisableThinking: true, cacheMinTokens: Infinity, embeddingDims: 3072 };
    case 'legacy':
      return { ...base, inputTokenLimit: 1_048_576, outputTokenLimit: 8192, methods: GENERATE_METHODS, thinking: false, thinksByDefault: false, thinkingMin: 0, thinkingMax: 0, canDisableThinking: true, cacheMinTokens: 1024 };
    case 'pro':
      // Pro models only work in thinking mode: budget 0 is refused (128-32768).
      return { ...base, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, methods: GENERATE_METHODS, thinking: true, thinksByDefault: true, thinkingMin: 128, thinkingMax: 32_768, canDisableThinking: false, cacheMinTokens: 4096 };
    case 'flash-lite':
      // Flash-Lite thinks only when given a budget (512-24576).
      return { ...base, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, methods: GENERATE_METHODS, thinking: true, thinksByDefault: false, thinkingMin: 512, thinkingMax: 24_576, canDisableThinking: true, cacheMinTokens: 1024 };
    default:
      return { ...base, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, methods: GENERATE_METHODS, thinking: true, thinksByDefault: true, thinkingMin: 1, thinkingMax: 24_576, canDisableThinking: true, cacheMinTokens: 1024 };
  }
}

/** What models.list shows, in the service's order (newest families first, aliases with them). */
export const CATALOGUE: readonly ModelInfo[] = [
  infoFor('gemini-3.5-flash', 'Gemini 3.5 Flash: fast, multimodal, thinking.'),
  infoFor('gemini-3.5-flash-lite', 'Gemini 3.5 Flash-Lite: the lowest-cost Gemini 3.5 model.'),
  infoFor('gemini-3.1-pro', 'Gemini 3.1 Pro: the most capable Gemini model for complex tasks.'),
  infoFor('gemini-3-flash', 'Gemini 3 Flash.'),
  infoFor('gemini-2.5-pro', 'Stable release of Gemini 2.5 Pro.'),
  infoFor('gemini-2.5-flash', 'Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens.'),
  infoFor('gemini-2.5-flash-lite', 'Stable version of Gemini 2.5 Flash-Lite.'),
  infoFor('gemini-2.0-flash', 'Gemini 2.0 Flash.'),
  infoFor('gemini-flash-latest', 'Latest release of Gemini Flash'),
  infoFor('gemini-flash-lite-latest', 'Latest release of Gemini Flash-Lite'),
  infoFor('gemini-pro-latest', 'Latest release of Gemini Pro'),
  infoFor('gemini-embedding-001', 'Obtain a distributed representation of a text.'),
];

const byId = new Map(CATALOGUE.map((m) => [m.id, m]));

/** The model the emulator serves under this id, or undefined (then: 404 as the service answers). */
export function modelInfo(id: string): ModelInfo | undefined {
  const known = byId.get(id);
  if (known) return known;
  if (/^gemini-[a-z0-9.-]+$/.test(id) || /^(text-)?embedding-[a-z0-9.-]+$/.test(id)) return infoFor(id);
  return undefined;
}

/** The Model resource (models.get, an item of models.list). */
export function modelResource(m: ModelInfo): Record<string, unknown> {
  const sampling = m.embeddingDims ? {} : { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2 };
  return {
    name: `models/${m.id}`, version: m.version, displayName: m.displayName, description: m.description,
    inputTokenLimit: m.inputTokenLimit, outputTokenLimit: m.outputTokenLimit,
    supportedGenerationMethods: [...m.methods], ...sampling, ...(m.thinking ? { thinking: true } : {}),
  };
}
