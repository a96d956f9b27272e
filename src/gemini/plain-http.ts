// The API key travels in a header of every request: over plain http:// anyone on the path can
// read it. Loopback (127.0.0.0/8, ::1, localhost) never leaves the machine — a local emulator or
// proxy — so only another host earns the warning, said once where a run or a worker starts.

/** The host a key would reach in clear text (`10.0.0.5:8089`), or undefined: https, loopback, or no URL. */
export function plainHttpHost(baseUrl: string | undefined): string | undefined {
  if (!baseUrl) return undefined;
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:') return undefined;
  const h = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const loopback = h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(h);
  return loopback ? undefined : u.host;
}

/** The warning for a key sent to `baseUrl` (from `where`: the flag or variable that gave it), or undefined. */
export function plainHttpWarning(baseUrl: string | undefined, apiKey: string | undefined, where = '--base-url or GEMINI_BASE_URL'): string | undefined {
  const host = apiKey ? plainHttpHost(baseUrl) : undefined;
  if (!host) return undefined;
  return `gempipe: warning: the API key goes in clear text over http:// to ${host} (${where}): anyone on the way can read it — use https://, or a loopback address (127.0.0.1, ::1, localhost) for a local emulator or proxy`;
}
