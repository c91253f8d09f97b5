/**
 * The whole configuration. Parsing turns durations into milliseconds, fills defaults and
 * normalizes `account_id` into `accounts`, so the rest of the program reads one shape.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { output } from './outputs.js';
import { pushSchema } from './push.js';
import { ACCEPTED_PAGE_SIZES } from './page-sizes.js';
import { accountId, boolean, cronSchedule, duration, integer, integerOf, listenAddress, nonEmpty, oneOf, httpUrl, proxySetting } from './primitives.js';
import { severityCode } from './syslog-codes.js';

export const DEFAULT_BASE_URL = 'https://api.cloudflare.com/client/v4';

const account = z.strictObject({
  id: accountId,
  name: nonEmpty('an account label').optional(),
  /** How long Cloudflare keeps this account's Access logs (plan-dependent). */
  retention: duration('"24h", "30d" or "180d"', 3_600_000).optional(),
});

const cloudflare = z
  .strictObject({
    base_url: httpUrl().default(DEFAULT_BASE_URL),
    api_token: nonEmpty('an API token (or use api_token_file)').optional(),
    auth_email: z.email({ error: 'must be the e-mail address of the account that owns auth_key' }).optional(),
    auth_key: nonEmpty('a Global API Key (or use auth_key_file)').optional(),
    account_id: accountId.optional(),
    accounts: z.array(account, { error: 'must be a list of { id, name }' }).min(1, { error: 'must list at least one account' }).optional(),
    page_size: integerOf(ACCEPTED_PAGE_SIZES, 'the sizes Access endpoints accept; others are refused with code 12091').default(1000),
    retention: duration('"24h" (Free), "30d" (Standard) or "180d" (Enterprise)', 3_600_000).prefault('24h'),
    request_timeout: duration('"30s"', 100).prefault('30s'),
    /** The HTTP proxy for the API: a URL, or none; absent: HTTPS_PROXY / NO_PROXY from the environment. */
    proxy: proxySetting().optional(),
    // Cloudflare's budget is 1,200 requests / 5 min per *user*, shared with the dashboard and every
    // other token or tool of that user: by default this process takes three quarters of it.
    rate_limit: z
      .strictObject({
        requests: integer(1, 1_000_000).default(900),
        per: duration('"5m"', 1000).prefault('5m'),
        /** The share of it that outputs catching up in their own reads may use, all together. */
        catch_up_percent: integer(1, 100).default(25),
      })
      .prefault({}),
  })
  .superRefine((cf, ctx) => {
    if (cf.account_id === undefined && cf.accounts === undefined) {
      ctx.addIssue({ code: 'custom', path: ['account_id'], message: 'is missing: set cloudflare.account_id (32 hexadecimal characters, from the dashboard URL) or list cloudflare.accounts' });
    }
    if (cf.account_id !== undefined && cf.accounts !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['accounts'], message: 'set either cloudflare.account_id or cloudflare.accounts, not both' });
    }
    if (cf.api_token === undefined && cf.auth_key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['api_token'], message: 'is missing: set cloudflare.api_token (or api_token_file) to a token with Account → "Access: Audit Logs Read", or auth_email + auth_key' });
    }
    if (cf.api_token !== undefined && cf.auth_key !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['auth_key'], message: 'set either api_token or auth_email + auth_key, not both' });
    }
    if (cf.auth_key !== undefined && cf.auth_email === undefined) {
      ctx.addIssue({ code: 'custom', path: ['auth_email'], message: 'is missing: auth_key needs auth_email (the account owner e-mail)' });
    }
    const ids = (cf.accounts ?? []).map((a) => a.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', path: ['accounts'], message: `lists account ${dup} twice` });
  })
  .transform(({ account_id, accounts, ...rest }) => ({
    ...rest,
    accounts: (accounts ?? (account_id === undefined ? [] : [{ id: account_id }])).map((a) => ({ ...a, retention: a.retention ?? rest.retention })),
  }));

const poll = z
  .strictObject({
    schedule: cronSchedule.default('*/1 * * * *'),
    settle: duration('"2m"').prefault('2m'),
    overlap: duration('"10m"').prefault('10m'),
    /** How often the overlap is swept for late arrivals (each event is swept once). */
    sweep_every: duration('"5m"', 1000).prefault('5m'),
    /** How long, in all, a read waits for an output whose queue is full before leaving it behind. */
    slow_output_wait: duration('"30s"').prefault('30s'),
    initial_lookback: duration('"24h"', 1000).prefault('24h'),
  })
  .prefault({});

const state = z.strictObject({ path: nonEmpty('a file path').default('./data/state.json') }).prefault({});

export const formatSection = z
  .strictObject({
    cef: z
      .strictObject({
        severity: z
          .strictObject({ allowed: integer(0, 10).default(3), denied: integer(0, 10).default(6) })
          .prefault({}),
      })
      .prefault({}),
    syslog: z
      .strictObject({
        severity: z
          .strictObject({ allowed: severityCode.default(6), denied: severityCode.default(4) })
          .prefault({}),
      })
      .prefault({}),
    ecs: z.strictObject({ include_original: boolean().default(false) }).prefault({}),
  })
  .prefault({});

const log = z
  .strictObject({
    level: oneOf(['error', 'warn', 'info', 'debug'] as const).default('info'),
    format: oneOf(['text', 'json'] as const).default('text'),
    /** Also append logs to this file (reopened on SIGHUP for logrotate). */
    file: nonEmpty('a file path').optional(),
    /** Also send logs to the local syslog socket (winston-syslog). */
    syslog: z
      .strictObject({
        path: nonEmpty('the path of the local syslog socket, e.g. /dev/log').default('/dev/log'),
        facility: oneOf(['daemon', 'user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] as const).default('daemon'),
        app_name: nonEmpty('an app name').default('cf-access-shipper'),
      })
      .optional(),
  })
  .prefault({});

const daemon = z
  .strictObject({
    /** How long SIGTERM waits for the running batch to finish and commit. */
    shutdown_timeout: duration('"30s"', 1000).prefault('30s'),
    /** Warn (and fail /healthz) when an output's checkpoint is further behind than this. */
    alert_lag: duration('"30m"', 1000).prefault('30m'),
  })
  .prefault({});

const metrics = z.strictObject({
  listen: listenAddress.prefault('127.0.0.1:9464'),
  /** Bearer token /metrics and /healthz require (or token_file). */
  token: nonEmpty('a bearer token (or use token_file)').optional(),
  /** Connections served at once: a flood of idle ones must not take descriptors from the pipeline. */
  max_connections: integer(1, 10_000).default(16),
});

export const configSchema = z
  .strictObject({
    cloudflare,
    poll,
    state,
    outputs: z.array(output, { error: 'must be a list of outputs' }).min(1, { error: 'must list at least one output' }),
    format: formatSection,
    log,
    daemon,
    metrics: metrics.optional(),
    push: pushSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    const files = new Map<string, string>();
    config.outputs.forEach((out, i) => {
      if (seen.has(out.name)) ctx.addIssue({ code: 'custom', path: ['outputs', i, 'name'], message: `must be unique: "${out.name}" is used by an earlier output` });
      seen.add(out.name);
      if (out.type === 'file') {
        const path = resolve(out.path);
        const other = files.get(path);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['outputs', i, 'path'], message: `is already written by output "${other}"; each file output needs its own file` });
        files.set(path, out.name);
      }
    });
  });

export type Config = z.output<typeof configSchema>;
export type CloudflareConfig = Config['cloudflare'];
export type AccountConfig = CloudflareConfig['accounts'][number];
export type FormatConfig = Config['format'];
