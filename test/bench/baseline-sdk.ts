// Baseline (a): the loop a Node user would write with the SDK — every line read into memory,
// a promise pool of N workers, default SDK settings (global fetch), results appended to one
// file through a write stream. Prints {records, wallMs, cpuUs, maxRssMB} as JSON on stdout.
// Usage: node baseline-sdk.js <baseUrl> <concurrency> <outFile> <input>...

import { createWriteStream, readFileSync } from 'node:fs';
import { GoogleGenAI } from '@google/genai';

const [baseUrl, conc, outFile, ...inputs] = process.argv.slice(2);
const t0 = Date.now();
const prompts: string[] = [];
for (const f of inputs) for (const l of readFileSync(f, 'utf8').split('\n')) if (l.trim()) prompts.push(l);
const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl } });
const out = createWriteStream(outFile);
let next = 0;
let done = 0;
async function worker(): Promise<void> {
  while (next < prompts.length) {
    const prompt = prompts[next++];
    const r = await ai.models.generateContent({ model: 'gemini-flash-latest', contents: prompt });
    out.write(JSON.stringify({ prompt, response: r.text, usage: r.usageMetadata }) + '\n');
    done++;
  }
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
await new Promise<void>((res) => out.end(res));
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ records: done, wallMs: Date.now() - t0, cpuUs: cpu.user + cpu.system, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
