/** Elastic Common Schema: the version the datasets' ECS mappings follow, and their options. */

export const ECS_VERSION = '9.4.0';

export interface EcsOptions {
  /** Include the received event as JSON text in `event.original`. */
  includeOriginal: boolean;
}
