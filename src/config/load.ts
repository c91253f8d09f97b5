/**
 * Loads the YAML configuration: parse (with line/column on syntax errors), substitute `${VAR}`,
 * read `<secret>_file` indirections, then validate. Every failure is a ConfigError (exit 78)
 * that names the key path.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import { type Config, configSchema } from './schema.js';
import { ProxyConfigError } from '../net/proxy.js';
import { type ClientRoute, clientRoutes, proxySecrets } from './proxies.js';
import { describeValue, formatPath, isSecretKey, type PathSegment } from './paths.js';

export const DEFAULT_CONFIG_PATH = './config/cf-access-shipper.yaml';
export const CONFIG_ENV = 'CF_ACCESS_SHIPPER_CONFIG';

/** Keys whose value may come from `<key>_file`. */
const FILE_SECRET_KEYS = new Set(['api_token', 'auth_key', 'token', 'proxy', 'secret', 'api_key', 'password']);

export interface LoadedConfig {
  config: Config;
  path: string;
  /** Every secret value, so loggers can redact them wherever they appear. */
  secrets: string[];
}

export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env[CONFIG_ENV] ?? DEFAULT_CONFIG_PATH);
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${errorMessage(error)})`;
    throw new ConfigError(`config file ${path} ${reason}; pass --config PATH or set ${CONFIG_ENV}`, { cause: error, code: 'ERR_CONFIG_READ' });
  }
  return { ...parseConfigText(text, path, env), path };
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Omit<LoadedConfig, 'path'> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new ConfigError(`${source}:${pos.line}:${pos.col}: invalid YAML: ${first.message.split('\n')[0] ?? ''}`, { code: 'ERR_CONFIG_YAML' });
  }
  // Keep numbers as the text the user wrote: an all-digit or "123e45…" account id must not
  // become a float. The schema parses numeric text where it wants a number.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && node.source !== undefined) node.value = node.source;
    },
  });
  const raw: unknown = doc.toJS() ?? {};
  const secrets: string[] = [];
  const substituted = substituteEnv(raw, [], env);
  const resolved = resolveSecretFiles(substituted, [], secrets);
  collectSecrets(resolved, secrets);
  const config = validateConfig(resolved, source);
  secrets.push(...proxySecrets(routesOf(config, env, source)));
  return { config, secrets: [...new Set(secrets)].filter((s) => s.length >= 4) };
}

export function validateConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(issue, raw));
  const unique = [...new Set(lines)];
  throw new ConfigError(`${source}: invalid configuration:\n${unique.map((l) => `  - ${l}`).join('\n')}`, { code: 'ERR_CONFIG_INVALID' });
}

/** The clients' proxy routes; a proxy in the environment that cannot be used is a config error. */
function routesOf(config: Config, env: NodeJS.ProcessEnv, source: string): ClientRoute[] {
  try {
    return clientRoutes(config, env);
  } catch (error) {
    if (error instanceof ProxyConfigError) throw new ConfigError(`${source}: ${error.message}`, { cause: error, code: 'ERR_CONFIG_INVALID' });
    throw error;
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path as PathSegment[];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${formatPath([...path, key])}: unknown key; check the spelling against config/cf-access-shipper.example.yaml`)
      .join('\n  - ');
  }
  const value = valueAt(raw, path);
  const shown = value === undefined ? 'missing' : `got ${describeValue(path, value)}`;
  const message = issue.message.startsWith('is missing') ? issue.message : `${shown}; ${issue.message}`;
  return `${formatPath(path)}: ${message}`;
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment as PropertyKey];
  }
  return node;
}

const VAR = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string value; `$$` is a literal `$`. */
export function substituteEnv(node: unknown, path: PathSegment[], env: NodeJS.ProcessEnv): unknown {
  if (typeof node === 'string') {
    return node.replace(VAR, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      const value = env[name ?? ''];
      if (value !== undefined && (value !== '' || fallback === undefined)) return value;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${formatPath(path)}: environment variable ${name ?? ''} is not set (used as \${${name ?? ''}}); export it, or write \${${name ?? ''}:-default}`, { code: 'ERR_CONFIG_ENV' });
    });
  }
  if (Array.isArray(node)) return node.map((item, i) => substituteEnv(item, [...path, i], env));
  if (node !== null && typeof node === 'object') {
    // `key:` with no value (YAML null) means "not set", so defaults apply.
    return Object.fromEntries(
      Object.entries(node)
        .filter(([, value]) => value !== null)
        .map(([key, value]) => [key, substituteEnv(value, [...path, key], env)]),
    );
  }
  return node;
}

/** Turns `api_token_file: /run/credentials/x/token` into `api_token: <trimmed file content>`. */
function resolveSecretFiles(node: unknown, path: PathSegment[], secrets: string[]): unknown {
  if (Array.isArray(node)) return node.map((item, i) => resolveSecretFiles(item, [...path, i], secrets));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const base = key.endsWith('_file') ? key.slice(0, -'_file'.length) : undefined;
    if (base === undefined || !FILE_SECRET_KEYS.has(base)) {
      out[key] = resolveSecretFiles(value, [...path, key], secrets);
      continue;
    }
    const keyPath = formatPath([...path, key]);
    if (base in node) throw new ConfigError(`${keyPath}: set either ${base} or ${key}, not both`, { code: 'ERR_CONFIG_INVALID' });
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${keyPath}: must be the path of a file holding the ${base}`, { code: 'ERR_CONFIG_INVALID' });
    let content: string;
    try {
      content = readFileSync(value, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`${keyPath}: cannot read ${value} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}); check the path and that this user may read it`, { cause: error, code: 'ERR_CONFIG_SECRET_FILE' });
    }
    if (content === '') throw new ConfigError(`${keyPath}: ${value} is empty; it must hold the ${base}`, { code: 'ERR_CONFIG_SECRET_FILE' });
    secrets.push(content);
    out[base] = content;
  }
  return out;
}

function collectSecrets(node: unknown, secrets: string[], key = ''): void {
  if (typeof node === 'string') {
    if (isSecretKey(key)) secrets.push(node);
  } else if (Array.isArray(node)) node.forEach((item) => { collectSecrets(item, secrets); });
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) collectSecrets(v, secrets, k);
  }
}
