// The two runtime patches of Bottleneck 2.19.5 take effect (review 3, change 7): the drift-free
// local refill and the Redis 7 runScript, the latter on gempipe's own datastores only; and when
// the version is not the one they were written for, they say so loudly instead of missing quietly.

import Bottleneck from 'bottleneck';
import { describe, expect, it } from 'vitest';
import { bottleneckGuard, connectRedis, patchRedisDatastore, PATCHED_BOTTLENECK } from '../../src/quota/bottleneck-redis.js';
import { useDriftFreeRefill } from '../../src/quota/bottleneck-refill.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis('Bottleneck Redis patch test');

describe('the Bottleneck patches', () => {
  it('are written for the version installed', () => {
    expect((Bottleneck as unknown as { version: string }).version).toBe(PATCHED_BOTTLENECK);
  });

  it('the drift-free refill replaces the local store\'s heartbeat', async () => {
    const bn = new Bottleneck({ reservoir: 1, reservoirIncreaseAmount: 1, reservoirIncreaseInterval: 100, reservoirIncreaseMaximum: 1 });
    const store = (bn as unknown as { _store: { _startHeartbeat: unknown } })._store;
    const before = store._startHeartbeat;
    expect(useDriftFreeRefill(bn)).toBe(true);
    expect(store._startHeartbeat).not.toBe(before);
    await bn.stop();
  });

  it('another version: no patch, and one warning naming it', () => {
    const said: string[] = [];
    expect(bottleneckGuard('a patch', (l) => said.push(l), '2.20.0')).toBe(false);
    expect(bottleneckGuard('a patch', (l) => said.push(l), '2.20.0')).toBe(false);
    expect(said).toEqual([`gempipe: Bottleneck 2.20.0 is not ${PATCHED_BOTTLENECK}: a patch is not applied, so its bug fix is missing (see src/quota/bottleneck-*.ts); pin bottleneck@${PATCHED_BOTTLENECK}`]);
  });

  it.runIf(redis.available)('the Redis patch goes to gempipe\'s datastore, not to Bottleneck\'s prototype', async () => {
    const link = connectRedis(redis.server.url);
    const ours = new Bottleneck({ datastore: 'ioredis', connection: link.connection, id: 'patch-test-ours', clearDatastore: true });
    const theirs = new Bottleneck({ datastore: 'ioredis', connection: link.connection, id: 'patch-test-theirs', clearDatastore: true });
    try {
      const proto = (theirs as unknown as { _store: { runScript: unknown } })._store.runScript;
      expect(patchRedisDatastore(ours)).toBe(true);
      expect((ours as unknown as { _store: { runScript: unknown } })._store.runScript).not.toBe(proto);
      expect((theirs as unknown as { _store: { runScript: unknown } })._store.runScript).toBe(proto);
      // And it works: after the settings key is deleted, the patched one rebuilds it.
      await ours.schedule(async () => 1);
      redis.server.cli('del', 'b_patch-test-ours_settings');
      expect(await ours.schedule(async () => 2)).toBe(2);
    } finally {
      await ours.disconnect(false);
      await theirs.disconnect(false);
      await link.close();
    }
  });
});
