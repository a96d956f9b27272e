// endpointAnswers(): whether the endpoint answers at all — one models.get through the SDK, any HTTP
// status counting (a 404 is an answer too). The generate work asks it when a record's every
// attempt timed out before anything in the run was answered: a live endpoint means this prompt
// hangs (a DEADLINE_EXCEEDED failure record), a silent one that the API cannot be reached.

import { GoogleGenAI } from '@google/genai';

export async function endpointAnswers(o: { apiKey: string; baseUrl?: string; model: string; timeoutMs: number }): Promise<boolean> {
  const ai = new GoogleGenAI({ apiKey: o.apiKey, httpOptions: { ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}), timeout: o.timeoutMs } });
  try {
    await ai.models.get({ model: o.model });
    return true;
  } catch (e) {
    return typeof (e as { status?: unknown }).status === 'number'; // the SDK's ApiError: an HTTP answer
  }
}
