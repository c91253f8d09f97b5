/**
 * The Cloudflare Access authentication event as the API returns it. Every field may be missing
 * and unknown fields pass through, so the type is an open record with the known fields typed
 * loosely (the API has changed types before; formatters coerce with `fieldText`).
 */
import { type EventRecord, type Outcome, valueText } from '../../format/record.js';

export type { Outcome };

export interface AccessEvent extends EventRecord {
  user_email?: unknown;
  ip_address?: unknown;
  app_uid?: unknown;
  app_domain?: unknown;
  app_name?: unknown;
  app_type?: unknown;
  action?: unknown;
  allowed?: unknown;
  created_at?: unknown;
  connection?: unknown;
  country?: unknown;
  ray_id?: unknown;
  user_id?: unknown;
}

/**
 * `allowed` is a boolean in the API; tolerate the strings "true"/"false" too. A missing `allowed`
 * is the schema's default, `false`: denied. Only a value of another kind is "unknown".
 */
export function outcomeOf(event: AccessEvent): Outcome {
  const allowed = event.allowed;
  if (allowed === true || allowed === 'true') return 'allowed';
  if (allowed === false || allowed === 'false' || allowed === undefined || allowed === null) return 'denied';
  return 'unknown';
}

/** Purpose justification and temporary access: set on few events, empty ("", [], 0) on the rest. */
export interface AccessRequestFields {
  prompt?: string;
  response?: string;
  /** The approvers' e-mail addresses, comma-separated. */
  approvers?: string;
  /** The same, one address each (for ECS `related.user`). */
  approverList?: string[];
  durationSeconds?: number;
}

function nonEmpty(value: unknown): string | undefined {
  const text = valueText(value);
  return text === '' ? undefined : text;
}

/** The purpose-justification and temporary-access fields an event carries, or undefined when none. */
export function accessRequestFields(event: AccessEvent): AccessRequestFields | undefined {
  const prompt = nonEmpty(event.purpose_justification_prompt);
  const response = nonEmpty(event.purpose_justification_response);
  const list = event.temporary_access_approvers;
  const approverList = (Array.isArray(list) ? list : [list])
    .flatMap((v) => (valueText(v) ?? '').split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  const approvers = Array.isArray(list)
    ? nonEmpty(
        list
          .map((v) => valueText(v) ?? '')
          .filter((v) => v !== '')
          .join(', '),
      )
    : nonEmpty(list);
  const duration = event.temporary_access_duration;
  const seconds =
    typeof duration === 'number'
      ? duration
      : typeof duration === 'string' && /^\d+$/.test(duration)
        ? Number(duration)
        : 0;
  if (prompt === undefined && response === undefined && approvers === undefined && !(seconds > 0)) return undefined;
  const fields: AccessRequestFields = {};
  if (prompt !== undefined) fields.prompt = prompt;
  if (response !== undefined) fields.response = response;
  if (approvers !== undefined) fields.approvers = approvers;
  if (approverList.length > 0) fields.approverList = approverList;
  if (seconds > 0) fields.durationSeconds = Math.trunc(seconds);
  return fields;
}

export interface AppDomainParts {
  host: string;
  path: string | undefined;
  original: string;
}

/**
 * Splits `app_domain` ("app.example.com/admin", sometimes with a scheme or port) into the
 * host and the path. The host excludes any port; a bracketed IPv6 literal keeps its brackets off.
 */
export function splitAppDomain(appDomain: string): AppDomainParts {
  // The common case, "host" or "host/path", needs no parsing beyond one search.
  if (!appDomain.includes(':') && !appDomain.includes('@') && appDomain.trim() === appDomain) {
    const slash = appDomain.search(/[/?#]/);
    if (slash === -1) return { host: appDomain, path: undefined, original: appDomain };
    return { host: appDomain.slice(0, slash), path: appDomain.slice(slash), original: appDomain };
  }
  let rest = appDomain.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  const slash = rest.search(/[/?#]/);
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? undefined : rest.slice(slash);
  let host = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end === -1 ? host.slice(1) : host.slice(1, end);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  return { host, path, original: appDomain };
}

/**
 * `splitAppDomain(appDomain).host` without building the parts: one scan for the common ASCII
 * "host" or "host/path" (the CEF hot path), the full parser for anything else.
 */
export function appDomainHost(appDomain: string): string {
  for (let i = 0; i < appDomain.length; i++) {
    const c = appDomain.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) return appDomain.slice(0, i); // / ? #
    // ":", "@", "[" (an IPv6 literal), a space or control character, or any non-ASCII (which trim()
    // may remove): the full parser.
    if (c === 58 || c === 64 || c === 91 || c <= 32 || c >= 0x7f) return splitAppDomain(appDomain).host;
  }
  return appDomain;
}
