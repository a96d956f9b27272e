import { it } from 'vitest';
import { drawMember } from './servers.js';
import { simulate } from './simulate.js';

it.skipIf(!process.env.SWEEP)('sweep', () => {
  const grid = JSON.parse(process.env.SWEEP!) as Array<Record<string, number>>;
  for (const g of grid) {
    let bad = 0, badShort = 0, utilSum = 0, q429 = 0;
    for (let s = 1; s <= 150; s++) {
      const m = drawMember(s);
      const r = simulate(m, { controller: g });
      utilSum += r.utilisation; q429 += r.share429;
      if (!(r.utilisation >= 0.9 && r.share429 < 0.02 && r.lost === 0)) bad++;
      const m2 = drawMember(s);
      m2.records = 2000; m2.concurrency = 64; m2.latencyMs = 30;
      m2.server.schedule = m2.server.schedule.map(([t, x]) => [t, (x / m2.server.schedule[0][1]) * 100]);
      const r2 = simulate(m2, { controller: g });
      if (!(r2.utilisation >= 0.9 && r2.share429 < 0.02 && r2.lost === 0)) badShort++;
    }
    console.log(JSON.stringify(g), `long bad ${bad}/150, short bad ${badShort}/150, mean util ${(utilSum / 1.5).toFixed(1)}%, mean 429 ${(q429 / 1.5).toFixed(2)}%`);
  }
});
