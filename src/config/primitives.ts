/**
 * zod building blocks whose error messages say what is allowed. Values that came through
 * `${VAR}` substitution are strings, so numbers and booleans also accept their text form.
 */
import { isIP } from 'node:net';
import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseProxyUrl } from '../net/proxy.js';

export function duration(example = '"30s", "2m" or "24h"', minMs = 0) {
  return z.string({ error: `must be a duration such as ${example}` }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as ${example} (units ms, s, m, h, d, w)` });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minMs} ms` });
      return z.NEVER;
    }
    return ms;
  });
}

export function integer(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .union([z.number(), z.string()], { error: message })
    .transform((value, ctx) => {
      const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return n;
    });
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 * 1024 };

/** Byte sizes: 65536, "64KiB", "1MiB", "1MB". */
export function byteSize(min: number, max: number) {
  const message = `must be a size from ${min} to ${max} bytes (a number, or with KiB/MiB/KB/MB)`;
  return z
    .union([z.number(), z.string()], { error: message })
    .transform((value, ctx) => {
      let n = NaN;
      if (typeof value === 'number') n = value;
      else {
        const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]i?[bB]|[bB])?\s*$/.exec(value);
        if (m) n = Math.round(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? NaN));
      }
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return n;
    });
}

export function boolean() {
  return z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
    .transform((value) => value === true || value === 'true');
}

export function nonEmpty(what: string) {
  return z.string({ error: `must be ${what}` }).trim().min(1, { error: `must be ${what}` });
}

/** An integer from a fixed list (numbers or numeric strings). */
export function integerOf(values: readonly number[], why: string) {
  const message = `must be one of ${values.join(', ')} (${why})`;
  return z
    .union([z.number(), z.string()], { error: message })
    .transform((value, ctx) => {
      const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!values.includes(n)) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return n;
    });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of: ${values.join(', ')}` });
}

export function httpUrl(what = 'an http:// or https:// URL') {
  return nonEmpty(what).refine(
    (text) => {
      try {
        const url = new URL(text);
        return url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: `must be ${what}` },
  );
}

/** A client's `proxy`: `none` (never a proxy, whatever the environment says) or the proxy's URL. */
export function proxySetting() {
  return nonEmpty('none, or a proxy URL such as http://proxy.example.com:3128').superRefine((text, ctx) => {
    if (text === 'none') return;
    const url = parseProxyUrl(text);
    if (typeof url === 'string') ctx.addIssue({ code: 'custom', message: `${url} (or none to use no proxy)` });
  });
}

export const accountId = z
  .string({ error: 'must be a Cloudflare account id (32 hexadecimal characters)' })
  .trim()
  .regex(/^[0-9a-fA-F]{32}$/, { error: 'must be a Cloudflare account id (32 hexadecimal characters)' })
  .transform((id) => id.toLowerCase());

export const cronSchedule = z
  .string({ error: 'must be a cron expression (5 fields, or 6 with seconds)' })
  .refine((expr) => {
    const fields = expr.trim().split(/\s+/).length;
    return (fields === 5 || fields === 6) && validateCron(expr);
  }, { error: 'must be a valid cron expression with 5 fields (or 6, seconds first), e.g. "*/1 * * * *"' });

/** "host:port" for a listener; the host defaults to 127.0.0.1. */
export const listenAddress = z
  .union([z.string(), z.number()], { error: 'must be "host:port" or a port number' })
  .transform((value, ctx) => {
    const text = String(value).trim();
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
    const host = m ? (m[1] ?? m[2] ?? '') || '127.0.0.1' : '';
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535 || (host !== 'localhost' && isIP(host) === 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be "host:port" with an IP address host (e.g. 127.0.0.1:9464) or a port number' });
      return z.NEVER;
    }
    return { host, port };
  });

export const outputName = z
  .string({ error: 'must be a name of letters, digits, "_", "-" or "."' })
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1–64 letters, digits, "_", "-" or "."' });
