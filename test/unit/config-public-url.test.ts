import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('ORBIT_PUBLIC_URL', () => {
  it('defaults to http://localhost:<PORT>', () => {
    expect(loadConfig({}).publicUrl).toBe('http://localhost:3000');
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
  });

  it('takes an http(s) origin, with or without a trailing slash', () => {
    expect(loadConfig({ ORBIT_PUBLIC_URL: 'https://orbit.example.com' }).publicUrl).toBe('https://orbit.example.com');
    expect(loadConfig({ ORBIT_PUBLIC_URL: 'https://orbit.example.com:8443/' }).publicUrl).toBe('https://orbit.example.com:8443');
  });

  it('refuses a path, another scheme or garbage, naming the variable', () => {
    for (const value of ['https://orbit.example.com/console', 'ftp://orbit.example.com', 'orbit.example.com', 'https://']) {
      expect(() => loadConfig({ ORBIT_PUBLIC_URL: value }), value).toThrow(ConfigError);
      try {
        loadConfig({ ORBIT_PUBLIC_URL: value });
      } catch (error) {
        expect((error as Error).message).toContain('ORBIT_PUBLIC_URL');
      }
    }
  });
});
