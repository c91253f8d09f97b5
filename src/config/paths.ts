/** Key paths and value descriptions for configuration error messages. */
import { maskUrlCredentials } from '../safe-text.js';

export type PathSegment = string | number;

/** `outputs[1].tls.ca_file` */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

/** Keys whose values are secrets: never printed. */
export function isSecretKey(key: PathSegment | undefined): boolean {
  return typeof key === 'string' && /^(api_token|auth_key|token|password|secret|api_key)$/.test(key);
}

export function describeValue(path: readonly PathSegment[], value: unknown): string {
  if (isSecretKey(path[path.length - 1])) return '"****" (secret, masked)';
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
  // A URL's user and password (a proxy's, a base_url with credentials) are masked like secrets.
  if (typeof value === 'string') {
    const masked = maskUrlCredentials(value);
    return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 77)}...` : masked);
  }
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  return String(value);
}
