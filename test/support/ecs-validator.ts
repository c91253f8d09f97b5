/**
 * Checks an ECS document against Elastic's own field table (the npm package `@elastic/ecs`, its
 * `EcsFlat`): every field exists (or is under a custom namespace), its value has the field's type,
 * array fields are arrays and others are not, allowed values are allowed, and each `event.type`
 * is one the document's `event.category` values expect. An independent oracle for the formatters.
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

interface EcsAllowedValue {
  name: string;
  expected_event_types?: string[];
}

interface EcsField {
  type: string;
  normalize: string[];
  allowed_values?: EcsAllowedValue[];
  pattern?: string;
}

// Loaded as data (createRequire): the package's generated .d.ts is 870 KB of literal types.
const ecs = createRequire(import.meta.url)('@elastic/ecs') as {
  EcsFlat: Record<string, EcsField>;
  EcsVersion: string;
};

export const ECS_TABLE_VERSION: string = ecs.EcsVersion;
export const ecsField = (name: string): EcsField | undefined => ecs.EcsFlat[name];

const STRING_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'text']);
const INTEGER_TYPES = new Set(['long', 'integer', 'short', 'byte']);
const FLOAT_TYPES = new Set(['float', 'double', 'scaled_float', 'half_float']);
// RFC 3339 / strict_date_optional_time as the shipper writes it (Elasticsearch's `date` reads up to 9 digits).
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `value` is not a value of `field`, or undefined when it is. */
function typeError(field: EcsField, value: unknown): string | undefined {
  const { type } = field;
  if (STRING_TYPES.has(type)) return typeof value === 'string' ? undefined : `not a string`;
  if (INTEGER_TYPES.has(type)) return Number.isSafeInteger(value) ? undefined : `not an integer`;
  if (FLOAT_TYPES.has(type)) return typeof value === 'number' && Number.isFinite(value) ? undefined : `not a number`;
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : `not a boolean`;
  if (type === 'ip') return typeof value === 'string' && isIP(value) !== 0 ? undefined : `not an IP address`;
  if (type === 'date')
    return typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(value))
      ? undefined
      : `not an RFC 3339 date`;
  if (type === 'object' || type === 'flattened' || type === 'nested')
    return isPlainObject(value) ? undefined : `not an object`;
  if (type === 'geo_point')
    return isPlainObject(value) && typeof value.lat === 'number' && typeof value.lon === 'number'
      ? undefined
      : `not a geo_point`;
  return `of a type this validator does not know (${type})`;
}

export interface EcsProblem {
  field: string;
  problem: string;
}

export interface EcsValidationOptions {
  /** Top-level keys whose subtree is the producer's own (custom fields, not checked). */
  customNamespaces: readonly string[];
}

/** Every way `doc` departs from ECS (empty: none). */
export function validateEcs(doc: Record<string, unknown>, options: EcsValidationOptions): EcsProblem[] {
  const problems: EcsProblem[] = [];
  for (const namespace of options.customNamespaces)
    if (ecs.EcsFlat[namespace] !== undefined || Object.keys(ecs.EcsFlat).some((f) => f.startsWith(`${namespace}.`)))
      problems.push({ field: namespace, problem: 'custom namespace collides with an ECS field set' });
  const check = (path: string, value: unknown): void => {
    const field = ecs.EcsFlat[path];
    if (field === undefined) {
      if (isPlainObject(value)) {
        for (const [key, child] of Object.entries(value)) check(`${path}.${key}`, child);
        return;
      }
      if (options.customNamespaces.includes(path.split('.')[0] ?? '')) return;
      problems.push({ field: path, problem: 'not an ECS field' });
      return;
    }
    const isArrayField = field.normalize.includes('array');
    if (Array.isArray(value) !== isArrayField) {
      problems.push({ field: path, problem: isArrayField ? 'should be an array' : 'is an array' });
      if (!Array.isArray(value)) return;
    }
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of values) {
      const error = typeError(field, item);
      if (error !== undefined) problems.push({ field: path, problem: `${JSON.stringify(item)} is ${error}` });
      else if (field.allowed_values && !field.allowed_values.some((a) => a.name === item))
        problems.push({ field: path, problem: `${JSON.stringify(item)} is not an allowed value` });
      else if (field.pattern !== undefined && !new RegExp(field.pattern).test(String(item)))
        problems.push({ field: path, problem: `${JSON.stringify(item)} does not match ${field.pattern}` });
    }
  };
  for (const [key, value] of Object.entries(doc)) check(key, value);
  problems.push(...categoryTypeProblems(doc));
  return problems;
}

/** Each `event.type` must be expected by one of the document's `event.category` values. */
function categoryTypeProblems(doc: Record<string, unknown>): EcsProblem[] {
  const event = doc.event;
  if (!isPlainObject(event)) return [];
  const categories = Array.isArray(event.category) ? event.category : [];
  const types = Array.isArray(event.type) ? event.type : [];
  const allowed = ecs.EcsFlat['event.category']?.allowed_values ?? [];
  const expected = new Set(
    categories.flatMap((c) => allowed.find((a) => a.name === c)?.expected_event_types ?? ([] as string[])),
  );
  return types
    .filter((t) => !expected.has(String(t)))
    .map((t) => ({
      field: 'event.type',
      problem: `${JSON.stringify(t)} is not expected with event.category ${JSON.stringify(categories)}`,
    }));
}
