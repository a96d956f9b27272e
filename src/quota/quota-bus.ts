// The quota bus (--redis): every process sharing a quota tells the others of each quota 429 it
// gets — the RetryInfo pause it asks for, the limit it names (quotaValue), the cut it calls for —
// through Bottleneck's own cluster messages (publish / 'message' on a limiter id of the quota's),
// so a 429 seen by one is acted on by all, with no second Redis client or channel of ours.

import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import type { RedisLink } from './bottleneck-redis.js';
import type { QuotaNews } from './limiter.js';

export interface QuotaBus {
  tell(news: QuotaNews, sentAt: number): void;
  stop(): Promise<void>;
}

export function createQuotaBus(link: RedisLink, quotaId: string, onNews: (news: QuotaNews, sentAt: number) => void): QuotaBus {
  const me = randomUUID();
  const bn = new Bottleneck({ datastore: 'ioredis', connection: link.connection, id: `gempipe:${quotaId}:bus`, clearDatastore: false, timeout: 600_000, heartbeatInterval: 5000 });
  bn.on('error', () => {}); // the link reports a lost connection
  bn.on('message', (text: string) => {
    try {
      const m = JSON.parse(text) as { from: string; news: QuotaNews; sentAt: number };
      if (m.from !== me) onNews(m.news, m.sentAt);
    } catch {
      /* not ours */
    }
  });
  return {
    tell(news, sentAt) {
      const { retryDelayMs, quota, perMinute } = news;
      bn.publish(JSON.stringify({ from: me, news: { retryDelayMs, quota, perMinute }, sentAt })).catch(() => {});
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
