/**
 * Writes integrations/elasticsearch/index-template.json from @elastic/ecs (a dev dependency) for
 * the fields the formatters emit. Run after changing an ECS mapping: npm run generate:es-template
 */
import { writeFileSync } from 'node:fs';
import { indexTemplate } from '../test/support/ecs-template.js';

const path = new URL('../integrations/elasticsearch/index-template.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(indexTemplate(), null, 2)}\n`);
console.log(path.pathname);
