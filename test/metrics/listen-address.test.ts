/**
 * `schedule --metrics-listen`: every form its --help and README document. `19469` was read as
 * host `1946`, port 9 (the scheduler failed `cannot listen (EADDRNOTAVAIL)`).
 */
import { describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../engine/metrics/server.js';

describe('parseListenAddress', () => {
  it('reads each documented form', () => {
    expect(parseListenAddress('19469')).toEqual({ port: 19469 });
    expect(parseListenAddress('9')).toEqual({ port: 9 });
    expect(parseListenAddress(':19469')).toEqual({ port: 19469 });
    expect(parseListenAddress('127.0.0.1:19469')).toEqual({ host: '127.0.0.1', port: 19469 });
    expect(parseListenAddress('localhost:9469')).toEqual({ host: 'localhost', port: 9469 });
    expect(parseListenAddress('[::1]:19469')).toEqual({ host: '::1', port: 19469 });
    expect(parseListenAddress('[::]:0')).toEqual({ host: '::', port: 0 });
    expect(parseListenAddress(' 0.0.0.0:9469 ')).toEqual({ host: '0.0.0.0', port: 9469 });
  });

  it.each(['', ':', 'host:', 'host', '127.0.0.1', '70000', ':65536', '::1:9469', '[::1]', '[::1:9469', '1.2.3.4:94x9', '-1', '123456'])(
    'refuses %j as a usage error naming the forms',
    (text) => {
      let error: unknown;
      try {
        parseListenAddress(text);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'EUSAGE', exitCode: 64 });
      expect((error as Error).message).toMatch(/--metrics-listen .*expected host:port, :port or port/);
    },
  );
});
