/** Every dataset the shipper knows, by name: the one place that lists them. */
import { accessRequests } from './access-requests/index.js';
import type { Dataset } from './dataset.js';
import { httpRequests } from './http-requests/index.js';

export const DATASETS: Readonly<Record<string, Dataset>> = {
  [accessRequests.name]: accessRequests,
  [httpRequests.name]: httpRequests,
};

/** The dataset read from the Cloudflare API with a cursor (the daemon's poll, `backfill`). */
export const POLLED: Dataset = accessRequests;

export type { Dataset } from './dataset.js';
