// The emulator's answer to one GenerateContentRequest (online, streamed or in a batch): a
// deterministic GenerateContentResponse, or the 400 the service gives the request. What it honours,
// as the service does: the whole conversation (the answer follows the last user turn and changes
// with the history and the system instruction), structured output (responseSchema /
// responseJsonSchema, text/x.enum), thinking (a thinking model spends thoughtsTokenCount whether
// or not it shows them; thought parts only with includeThoughts; thinkingBudget 0 turns it off
// where the model allows), maxOutputTokens (thoughts count against it; the answer is cut there,
// finishReason MAX_TOKENS), and usageMetadata consistent with all of it (zero counts left out).

import { breaking, enumChoice, enumValues, valueFor, type Schema } from './schema-answer.js';
import { invalidArgument, type GoogleError } from './google-errors.js';
import { lastUserText, promptOf, systemOf, turnsOf, type GenerateRequest, type Part } from './request.js';
import type { ModelInfo } from './models.js';

/** Rough tokens for text: ~4 characters a token, at least 1. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** FNV-1a, 32 bits: the emulator's deterministic hash. */
export function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The deterministic answer to a one-turn prompt (no history, no system instruction). */
export function answerFor(prompt: string): string {
  const m = /two times (-?\d+)/i.exec(prompt);
  if (m) return `Two times ${m[1]} is ${2 * Number(m[1])}.`;
  const short = prompt.length > 80 ? prompt.slice(0, 77) + '...' : prompt;
  return `Emulated answer #${hash(prompt).toString(16)} to: ${short}`;
}

/** What a non-text part contributes: a label the answer mentions, and its prompt tokens. */
export type MediaReader = (part: Part) => { label: string; tokens: number } | GoogleError;

export interface AnswerOptions {
  /** The emulator's `thinking` option: true every model thinks, false none, undefined as the model does. */
  thinking?: boolean;
  /** A scripted fault that shapes the answer (faults.ts). */
  fault?: 'badjson' | 'schemabad' | 'maxtokens' | 'cut' | 'thinking';
  /** Of the prompt's tokens, those served from a cache (explicit cachedContent, or an implicit hit). */
  cachedTokens?: number;
  /** Reads inlineData / fileData parts (absent: such parts count 258 tokens and are named by type). */
  media?: MediaReader;
  responseId?: string;
}

export interface Answer {
  response: Record<string, unknown>;
  /** The answer's text (no thoughts), for counters. */
  text: string;
  promptTokens: number;
}

const THOUGHT_SUMMARY = (prompt: string) => `**Thinking about it**\nThe user asks: ${prompt.slice(0, 60)}. Let me work it out step by step.`;

/** The prompt tokens of a request (text of every turn, the system instruction, media parts). */
export function promptTokensOf(r: GenerateRequest, media?: MediaReader): number | GoogleError {
  const prompt = promptOf(r);
  const system = systemOf(r);
  let tokens = countTokens(prompt) + (system ? countTokens(system) : 0);
  for (const p of mediaParts(r)) {
    const m = media ? media(p) : { label: '', tokens: 258 };
    if ('code' in m) return m;
    tokens += m.tokens;
  }
  return tokens;
}

function mediaParts(r: GenerateRequest): Part[] {
  return [...(r.contents ?? []).flatMap((c) => c.parts ?? []), ...(r.systemInstruction?.parts ?? [])].filter((p) => p.inlineData || p.fileData);
}

/** The answer text: from the last user turn, shaped by the history and the system instruction. */
function answerText(r: GenerateRequest, mediaLabels: string[]): string {
  const turns = turnsOf(r);
  const system = systemOf(r);
  let text: string;
  if (turns.length <= 1 && !system && mediaLabels.length === 0) text = answerFor(promptOf(r));
  else {
    const last = lastUserText(r);
    const m = /two times (-?\d+)/i.exec(last);
    if (m) text = `Two times ${m[1]} is ${2 * Number(m[1])}.`;
    else {
      const key = [system, ...turns.map((t) => `${t.role}:${t.text}`), ...mediaLabels].join('\u0001');
      const short = last.length > 80 ? last.slice(0, 77) + '...' : last;
      const about = mediaLabels.length ? ` [${mediaLabels.join(', ')}]` : '';
      text = `Emulated answer #${hash(key).toString(16)} to: ${short}${about}${turns.length > 1 ? ` (turn ${turns.length})` : ''}`;
    }
  }
  // A system instruction that asks for capitals is one the emulator can visibly follow.
  if (/\b(upper[ -]?case|capital letters|all caps)\b/i.test(system)) text = text.toUpperCase();
  return text;
}

/** How much the model thinks on this request, or the 400 the service gives its thinkingConfig. */
function thoughtsFor(r: GenerateRequest, m: ModelInfo, o: AnswerOptions): { tokens: number; include: boolean } | GoogleError {
  const tc = r.generationConfig?.thinkingConfig ?? {};
  const include = tc.includeThoughts === true;
  const thinkingModel = o.thinking ?? m.thinking;
  const budget = tc.thinkingBudget;
  if (budget !== undefined && (!Number.isInteger(budget) || budget < -1)) {
    return invalidArgument(`Invalid value at 'generation_config.thinking_config.thinking_budget' (TYPE_INT32), ${JSON.stringify(budget)}`);
  }
  if (!thinkingModel) return { tokens: 0, include };
  if (budget === 0 && !m.canDisableThinking && o.thinking === undefined) {
    return invalidArgument('Budget 0 is invalid. This model only works in thinking mode.');
  }
  const forced = o.fault === 'thinking' || o.fault === 'maxtokens' || o.thinking === true;
  const thinks = budget === undefined ? forced || m.thinksByDefault || tc.thinkingLevel !== undefined : budget !== 0;
  if (!thinks) return { tokens: 0, include };
  // Dynamic thinking: a deterministic amount per prompt; a budget caps it; a low level quarters it.
  let tokens = 64 + (hash(`thoughts:${promptOf(r)}`) % 448);
  if (/^(low|minimal)$/i.test(tc.thinkingLevel ?? '')) tokens = Math.max(16, tokens >> 2);
  if (budget !== undefined && budget > 0) tokens = Math.min(tokens, Math.min(Math.max(budget, m.thinkingMin), m.thinkingMax));
  return { tokens, include };
}

/** The answer to one request, or the error the service would give it. */
export function answerRequest(modelName: string, m: ModelInfo, r: GenerateRequest, o: AnswerOptions = {}): Answer | { error: GoogleError } {
  if (!r.contents?.length) return { error: invalidArgument('* GenerateContentRequest.contents: contents is not specified\n') };
  const labels: string[] = [];
  let mediaTokens = 0;
  for (const p of mediaParts(r)) {
    const info = o.media ? o.media(p) : { label: p.inlineData?.mimeType ?? p.fileData?.mimeType ?? 'media', tokens: 258 };
    if ('code' in info) return { error: info };
    labels.push(info.label);
    mediaTokens += info.tokens;
  }
  const prompt = promptOf(r);
  const system = systemOf(r);
  const promptTokens = countTokens(prompt) + (system ? countTokens(system) : 0) + mediaTokens;
  // Cached tokens are part of the prompt (its cached prefix), never more than all of it.
  const cached = Math.min(o.cachedTokens ?? 0, promptTokens);
  if (promptTokens > m.inputTokenLimit) return { error: invalidArgument(`The input token count exceeds the maximum number of tokens allowed ${m.inputTokenLimit}.`) };
  const thinking = thoughtsFor(r, m, o);
  if ('code' in thinking) return { error: thinking };

  const gc = r.generationConfig ?? {};
  let text = answerText(r, labels);
  const number = /two times (-?\d+)/i.exec(lastUserText(r)) ? 2 * Number(/two times (-?\d+)/i.exec(lastUserText(r))![1]) : undefined;
  const mime = gc.responseMimeType?.toLowerCase();
  const schema = (gc.responseJsonSchema ?? gc.responseSchema) as Schema | undefined;
  const dialect = gc.responseJsonSchema !== undefined ? 'json-schema' as const : 'openapi' as const;
  if (mime === 'application/json') {
    text = o.fault === 'badjson' ? `not json: ${text}`
      : o.fault === 'schemabad' ? JSON.stringify(breaking(schema))
        : JSON.stringify(schema ? valueFor(schema, { text, prompt: lastUserText(r), number, dialect }) : { answer: text });
  } else if (mime === 'text/x.enum') {
    const values = enumValues(schema);
    if (values) text = String(enumChoice(values, lastUserText(r)));
  }

  // Output budget: thoughts first, then the answer; whatever does not fit is cut (MAX_TOKENS).
  let thoughts = thinking.tokens;
  const limit = Math.min(gc.maxOutputTokens ?? m.outputTokenLimit, m.outputTokenLimit);
  let finishReason = 'STOP';
  if (o.fault === 'maxtokens') {
    thoughts = Math.max(thoughts, gc.maxOutputTokens ?? thoughts);
    text = '';
    finishReason = 'MAX_TOKENS';
  } else if (o.fault === 'cut') {
    text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    finishReason = 'MAX_TOKENS';
  } else if (thoughts >= limit) {
    thoughts = limit;
    text = '';
    finishReason = 'MAX_TOKENS';
  } else if (countTokens(text) > limit - thoughts) {
    text = text.slice(0, (limit - thoughts) * 4);
    finishReason = 'MAX_TOKENS';
  }
  const out = text ? countTokens(text) : 0;
  const parts: Part[] = [];
  if (thoughts > 0 && thinking.include) parts.push({ text: THOUGHT_SUMMARY(prompt), thought: true });
  if (text) parts.push({ text });
  const response: Record<string, unknown> = {
    candidates: [{ content: parts.length ? { parts, role: 'model' } : { role: 'model' }, finishReason, index: 0 }],
    usageMetadata: usageOf(promptTokens, out, thoughts, cached, mediaTokens),
    modelVersion: modelName,
    ...(o.responseId ? { responseId: o.responseId } : {}),
  };
  return { response, text, promptTokens };
}

/** usageMetadata as the service writes it: zero counts left out, cached tokens inside promptTokenCount. */
export function usageOf(promptTokens: number, out: number, thoughts = 0, cached = 0, mediaTokens = 0): Record<string, unknown> {
  const details = [{ modality: 'TEXT', tokenCount: promptTokens - mediaTokens }, ...(mediaTokens ? [{ modality: 'IMAGE', tokenCount: mediaTokens }] : [])];
  return {
    promptTokenCount: promptTokens,
    ...(out > 0 ? { candidatesTokenCount: out } : {}),
    totalTokenCount: promptTokens + out + thoughts,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    promptTokensDetails: details,
    ...(cached > 0 ? { cacheTokensDetails: [{ modality: 'TEXT', tokenCount: cached }] } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
  };
}
