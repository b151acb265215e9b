// Headers every dashboard response carries: a strict content security policy (only this
// origin's own scripts, styles and connections; no inline script or style, no frames, no
// plugins), no MIME sniffing, no referrer, and nothing cached that holds node data.

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

/** For API answers and event streams: node data is never stored by the browser or a proxy. */
export const NO_STORE = { 'Cache-Control': 'no-store' };
