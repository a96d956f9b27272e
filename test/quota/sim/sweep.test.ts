import { it } from 'vitest';
import { drawCase, runCase, VARIANTS, type Variant } from './family.js';

// A tool, not a test: `SWEEP='[{},{"cut":0.85}]' VARIANT=unknown,short SEEDS=1-100 npx vitest run
// test/quota/sim/sweep.test.ts` runs the family's cases once per controller option set.
it.skipIf(!process.env.SWEEP)('sweep', () => {
  const grid = JSON.parse(process.env.SWEEP!) as Array<Record<string, number>>;
  const [a, b] = (process.env.SEEDS ?? '1-100').split('-').map(Number);
  const variants = (process.env.VARIANT ? process.env.VARIANT.split(',') : VARIANTS) as Variant[];
  for (const g of grid) {
    const parts: string[] = [];
    for (const v of variants) {
      let bad = 0;
      let util = 0;
      let share = 0;
      for (let s = a; s <= b; s++) {
        const r = runCase(drawCase(v, s), { controller: g });
        util += r.utilisation;
        share += r.share429;
        if (!r.ok) bad++;
      }
      const n = b - a + 1;
      parts.push(`${v} ${bad}/${n} ${((util / n) * 100).toFixed(1)}% ${((share / n) * 100).toFixed(2)}%`);
    }
    console.log(JSON.stringify(g), parts.join(' | '));
  }
});
