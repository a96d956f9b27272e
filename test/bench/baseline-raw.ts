// Baseline (b), the ceiling: raw keep-alive HTTP POSTs of the SDK's request body to the
// emulator, N in flight, responses read and dropped; no SDK, no files. Prints
// {records, wallMs} as JSON. Usage: node baseline-raw.js <baseUrl> <concurrency> <count>

import { Agent, request } from 'node:http';

const [baseUrl, conc, count] = process.argv.slice(2);
const n = Number(count);
const u = new URL(`${baseUrl}/v1beta/models/gemini-flash-latest:generateContent`);
const agent = new Agent({ keepAlive: true, maxSockets: Number(conc) });
const t0 = Date.now();
let sent = 0;
let done = 0;
function one(): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ contents: [{ parts: [{ text: `What is two times ${sent}?` }], role: 'user' }] });
    const req = request(u, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-goog-api-key': 'bench-key', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        done++;
        resolve();
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function worker(): Promise<void> {
  while (sent < n) {
    sent++;
    await one();
  }
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
agent.destroy();
process.stdout.write(JSON.stringify({ records: done, wallMs: Date.now() - t0 }) + '\n');
