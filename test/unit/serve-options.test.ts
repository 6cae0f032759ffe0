/** The ops server's options (src/http/serve-options.ts): defaults, and refusals that print the value. */
import { describe, expect, it } from 'vitest';
import { thrown } from './support/thrown.js';
import { ConfigurationError } from '../../src/model/errors.js';
import { resolveServeOptions, serveDefaults } from '../../src/http/serve-options.js';

const refusal = (options: unknown): ConfigurationError =>
  thrown(ConfigurationError, () => resolveServeOptions(options as never));

describe('resolveServeOptions', () => {
  it('applies the defaults, also to options given as undefined', () => {
    expect(resolveServeOptions({})).toEqual({ ...serveDefaults, apiKey: null });
    expect(resolveServeOptions({ port: undefined, host: undefined })).toEqual({ ...serveDefaults, apiKey: null });
    expect(serveDefaults).toEqual({ port: 8080, host: '127.0.0.1', bodyLimit: 1_048_576 });
  });

  it('keeps what is given, and holds an API key when one is set', () => {
    const resolved = resolveServeOptions({ port: 0, host: '0.0.0.0', apiKey: 'secret', bodyLimit: 10 });
    expect(resolved).toMatchObject({ port: 0, host: '0.0.0.0', bodyLimit: 10 });
    expect(resolved.apiKey).not.toBeNull();
  });

  it('refuses an unknown key, a bad port and a bad body limit, printing the value', () => {
    expect(refusal({ prot: 1 }).message).toContain('prot');
    const port = refusal({ port: 70000 });
    expect(port.value).toBe(70000);
    expect(port.message).toContain('70000');
    expect(refusal({ bodyLimit: -1 }).message).toContain('-1');
  });

  it('refuses a non-loopback host without an API key, naming the host', () => {
    const error = refusal({ host: '0.0.0.0' });
    expect(error.value).toBe('0.0.0.0');
    expect(error.message).toContain("refusing to listen on '0.0.0.0' without an apiKey");
  });
});
