import { describe, expect, it } from 'vitest';
import { plainHttpHost, plainHttpWarning } from '../../src/gemini/plain-http.js';

describe('the key over plain http://', () => {
  it('names a host that is not loopback', () => {
    expect(plainHttpHost('http://10.0.0.5:8089')).toBe('10.0.0.5:8089');
    expect(plainHttpHost('http://gemini-proxy.internal/v1')).toBe('gemini-proxy.internal');
    expect(plainHttpHost('http://[2001:db8::1]:80')).toBe('[2001:db8::1]');
    expect(plainHttpHost('http://0.0.0.0:1')).toBe('0.0.0.0:1');
    expect(plainHttpHost('http://128.0.0.1')).toBe('128.0.0.1');
  });

  it('leaves https, loopback and no URL alone', () => {
    for (const u of ['https://10.0.0.5', 'http://127.0.0.1:8089', 'http://127.3.2.1', 'http://localhost:1', 'http://LOCALHOST', 'http://api.localhost:1', 'http://[::1]:8089', 'http://[::ffff:127.0.0.1]:1', undefined, 'not a url']) {
      expect(plainHttpHost(u), String(u)).toBeUndefined();
    }
  });

  it('warns only when there is a key to leak', () => {
    expect(plainHttpWarning('http://10.0.0.5', '')).toBeUndefined();
    expect(plainHttpWarning('http://10.0.0.5', 'k')).toMatch(/clear text over http:\/\/ to 10\.0\.0\.5 \(--base-url or GEMINI_BASE_URL\)/);
  });
});
