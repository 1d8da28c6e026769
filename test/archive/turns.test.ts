import { describe, expect, it } from 'vitest';
import { Turns } from '../../engine/archive/turns.js';
import { drainMicrotasks } from '../helpers/microtasks.js';

describe('Turns (who writes into the archive next)', () => {
  it('lets entries streaming from a host go before spooled ones, each kind in its order', async () => {
    const turns = new Turns();
    const order: string[] = [];
    let release!: () => void;
    const holding = turns.take('spooled', () => new Promise<void>((r) => (release = r)));
    const queued = [
      turns.take('spooled', async () => void order.push('spooled A')),
      turns.take('live', async () => void order.push('live B')),
      turns.take('spooled', async () => void order.push('spooled C')),
      turns.take('live', async () => void order.push('live D')),
    ];
    await drainMicrotasks(); // Turns waits on promises only: whatever could run, has
    expect(order).toEqual([]); // nobody writes while the stream is held
    release();
    await Promise.all([holding, ...queued]);
    expect(order).toEqual(['live B', 'live D', 'spooled A', 'spooled C']);
  });

  it('passes results and failures to their entry and goes on after a failure', async () => {
    const turns = new Turns();
    const failed = turns.take('live', async () => {
      throw new Error('sink broke');
    });
    const next = turns.take('live', async () => 42);
    await expect(failed).rejects.toThrow('sink broke');
    await expect(next).resolves.toBe(42);
    await turns.idle();
  });

  it('is idle only when no entry holds or waits for the stream', async () => {
    const turns = new Turns();
    let release!: () => void;
    void turns.take('live', () => new Promise<void>((r) => (release = r)));
    let idle = false;
    void turns.idle().then(() => (idle = true));
    await drainMicrotasks();
    expect(idle).toBe(false);
    release();
    await turns.idle();
  });
});
