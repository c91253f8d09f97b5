/**
 * The Logpush receiver `run` serves: where it listens, its limits, and one endpoint per Logpush
 * job (path, dataset, shared secret).
 */
import { z } from 'zod';
import { boolean, byteSize, integer, listenAddress, nonEmpty, oneOf, outputName } from './primitives.js';

export const PUSH_DATASETS = ['http_requests', 'access_requests'] as const;

const endpoint = z
  .strictObject({
    name: outputName,
    /** Default /logpush/<name>. */
    path: z
      .string({ error: 'must be a path such as /logpush/http' })
      .regex(/^\/[A-Za-z0-9._~/-]*$/, { error: 'must be a path such as /logpush/http' })
      .optional(),
    dataset: oneOf(PUSH_DATASETS),
    /** The header Logpush sends the secret in (`header_<Name>=` in destination_conf). */
    secret_header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'must be a header name such as X-Logpush-Secret' })
      .default('X-Logpush-Secret'),
    secret: z.string().min(16, { error: 'must be at least 16 characters (or use secret_file)' }),
    /** The account the pushed events belong to (written as account_id), when known. */
    account_id: z
      .string()
      .regex(/^[0-9a-fA-F]{32}$/, { error: 'must be a Cloudflare account id (32 hexadecimal characters)' })
      .transform((id) => id.toLowerCase())
      .optional(),
  })
  .transform((e) => ({ ...e, path: e.path ?? `/logpush/${e.name}` }));

export const pushSchema = z
  .strictObject({
    listen: listenAddress,
    tls: z.strictObject({ cert_file: nonEmpty('a PEM file'), key_file: nonEmpty('a PEM file') }).optional(),
    max_body: byteSize(1024, 2 ** 31).default(100 * 2 ** 20),
    max_decompressed: byteSize(1024, 2 ** 32).default(2 ** 30),
    /** Pushes handled at once; more are answered 429 with Retry-After (Logpush retries). */
    max_concurrent: integer(1, 256).default(4),
    /** Event hashes remembered per endpoint and output, to drop a batch Logpush sends again. */
    dedup_window: integer(0, 10_000_000).default(500_000),
    /** Events per slice shipped to the outputs while a body streams in. */
    slice_events: integer(1, 100_000).default(1000),
    /** Gunzip, parse and hash bodies in worker threads (one per push at once) beside the outputs' thread. */
    read_in_worker: boolean().default(true),
    endpoints: z.array(endpoint).min(1, { error: 'must list at least one endpoint' }),
  })
  .superRefine((push, ctx) => {
    const paths = push.endpoints.map((e) => e.path);
    paths.forEach((path, i) => {
      if (paths.indexOf(path) !== i) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'path'], message: `${path} is used by two endpoints` });
    });
  });

export type PushConfig = z.output<typeof pushSchema>;
export type PushEndpointConfig = PushConfig['endpoints'][number];
