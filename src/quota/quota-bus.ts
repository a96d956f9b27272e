// The quota bus (--redis): every process sharing a quota tells the others the controller's
// decisions — a cut, a block (a window ran out: everyone waits), a reopening, a limit the server
// named — and a heartbeat, so each knows how many share it, through Bottleneck's own cluster
// messages (publish / 'message' on a limiter id of the quota's): no second Redis client of ours.

import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { patchRedisDatastore, type RedisLink } from './bottleneck-redis.js';
import type { QuotaNews } from './controller.js';

export interface QuotaBus {
  /** Publishes a decision; undefined: a heartbeat. */
  tell(news: QuotaNews | undefined): void;
  stop(): Promise<void>;
}

export function createQuotaBus(link: RedisLink, quotaId: string, onNews: (news: QuotaNews | undefined, from: string) => void): QuotaBus {
  const me = randomUUID();
  const bn = new Bottleneck({ datastore: 'ioredis', connection: link.connection, id: `gempipe:${quotaId}:bus`, clearDatastore: false, timeout: 600_000, heartbeatInterval: 5000 });
  bn.on('error', () => {}); // the link reports a lost connection
  patchRedisDatastore(bn);
  bn.on('message', (text: string) => {
    try {
      const m = JSON.parse(text) as { from: string; news?: QuotaNews };
      if (typeof m.from === 'string' && m.from !== me) onNews(m.news, m.from);
    } catch {
      /* not ours */
    }
  });
  return {
    tell(news) {
      bn.publish(JSON.stringify({ from: me, news })).catch(() => {});
    },
    async stop() {
      try {
        await Promise.resolve(bn.disconnect(false) as unknown);
      } catch {
        /* gone */
      }
    },
  };
}
