// streamGenerateContent: one answer cut into the chunks the service streams. With `?alt=sse`
// (what the SDKs ask) each chunk is an SSE event `data: {json}` ended by CRLF CRLF; without it the
// body is one JSON array written element by element. Thought parts come first, then the text in
// growing pieces; every chunk carries modelVersion, responseId and usageMetadata with the prompt
// count, and only the last one the finishReason and the full counts — the shape the SDK's
// generateContentStream reads and `for await` users see.

import type { ServerResponse } from 'node:http';

type Candidate = { content?: { parts?: Array<{ text?: string; thought?: boolean }>; role?: string }; finishReason?: string; index?: number };

/** The chunks of a complete GenerateContentResponse. */
export function chunksOf(response: Record<string, unknown>): Array<Record<string, unknown>> {
  const cand = ((response.candidates as Candidate[] | undefined) ?? [])[0];
  const usage = (response.usageMetadata ?? {}) as Record<string, unknown>;
  const common = { modelVersion: response.modelVersion, ...(response.responseId ? { responseId: response.responseId } : {}) };
  const partial = { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount, promptTokensDetails: usage.promptTokensDetails };
  if (!cand) return [response];
  const parts = cand.content?.parts ?? [];
  const pieces: Array<{ text: string; thought?: boolean }> = [];
  for (const p of parts) {
    if (p.thought) pieces.push({ text: p.text ?? '', thought: true });
    else for (const s of split(p.text ?? '')) pieces.push({ text: s });
  }
  if (pieces.length === 0) {
    return [{ candidates: [{ ...cand, index: 0 }], usageMetadata: usage, ...common }];
  }
  return pieces.map((piece, i) => {
    const last = i === pieces.length - 1;
    return {
      candidates: [{
        content: { parts: [piece.thought ? { text: piece.text, thought: true } : { text: piece.text }], role: 'model' },
        ...(last && cand.finishReason ? { finishReason: cand.finishReason } : {}),
        index: 0,
      }],
      usageMetadata: last ? usage : partial,
      ...common,
    };
  });
}

/** Text in pieces that grow (the service's first chunk is short, later ones longer). */
function split(text: string): string[] {
  const out: string[] = [];
  let size = 8;
  for (let i = 0; i < text.length; i += size, size *= 2) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

/** Writes the chunks as the service streams them, then ends the response. */
export function writeStream(res: ServerResponse, chunks: Array<Record<string, unknown>>, sse: boolean): void {
  if (sse) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    for (const c of chunks) res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
  } else {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    chunks.forEach((c, i) => res.write(`${i === 0 ? '[' : ',\r\n'}${JSON.stringify(c)}`));
    res.write(']');
  }
  res.end();
}
