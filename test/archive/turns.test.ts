import { describe, expect, it } from 'vitest';
import { Turns, type ReleaseTurn } from '../../engine/archive/turns.js';
import { drainMicrotasks } from '../helpers/microtasks.js';

describe('Turns (who writes into the archive next)', () => {
  it('lets entries streaming from a host go before spooled ones, each kind in its order', async () => {
    const turns = new Turns();
    const order: string[] = [];
    const first = turns.take('spooled');
    expect(first).toBeTypeOf('function'); // a free stream is taken at once
    const queued = (['spooled A', 'live B', 'spooled C', 'live D'] as const).map(async (name) => {
      const release = await turns.take(name.startsWith('live') ? 'live' : 'spooled');
      order.push(name);
      release();
    });
    await drainMicrotasks(); // Turns waits on promises only: whatever could run, has
    expect(order).toEqual([]); // nobody writes while the stream is held
    (first as ReleaseTurn)();
    await Promise.all(queued);
    expect(order).toEqual(['live B', 'live D', 'spooled A', 'spooled C']);
  });

  it('hands the stream on once however often a holder releases it', async () => {
    const turns = new Turns();
    const first = turns.take('live') as ReleaseTurn;
    const second = turns.take('live');
    const third = turns.take('live');
    expect(second).toBeInstanceOf(Promise);
    first();
    first(); // a second call must not give the stream to `third` while `second` holds it
    const releaseSecond = await second;
    let thirdHasIt = false;
    void Promise.resolve(third).then(() => (thirdHasIt = true));
    await drainMicrotasks();
    expect(thirdHasIt).toBe(false);
    releaseSecond();
    (await third)();
    await turns.idle();
  });

  it('is idle only when no entry holds or waits for the stream', async () => {
    const turns = new Turns();
    const release = turns.take('live') as ReleaseTurn;
    let idle = false;
    void turns.idle().then(() => (idle = true));
    await drainMicrotasks();
    expect(idle).toBe(false);
    release();
    await turns.idle();
    expect(idle).toBe(true);
  });
});
