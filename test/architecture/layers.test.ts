/**
 * The layout is the architecture: every import in src/ goes down the layers below (or stays in
 * its folder), and no module imports itself back through others (no cycles).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Lowest first. A folder may import its own files and any folder of a lower rank. */
const RANKS: Record<string, number> = {
  '.': 0, // errors, safe-text, version, clock, logging: no project imports but each other
  types: 0,
  format: 1,
  net: 1,
  state: 1,
  datasets: 2,
  config: 3,
  source: 4,
  sink: 4,
  ops: 5,
  pipeline: 6,
  push: 5.5, // the Logpush receiver: below the pipeline that serves it from `run`
  cli: 7,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? (rel.split('/')[0] ?? '.') : '.';
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)) {
    found.push(resolve(dirname(file), (match[1] ?? '').replace(/\.js$/, '.ts')));
  }
  for (const match of text.matchAll(/import\('(\.[^']+)'\)/g))
    found.push(resolve(dirname(file), (match[1] ?? '').replace(/\.js$/, '.ts')));
  return found;
}

describe('architecture: layers and cycles', () => {
  const all = files(SRC);
  const graph = new Map(all.map((f) => [f, importsOf(f)]));

  it('every import goes to the same folder or a lower layer', () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = folderOf(file);
      assert.ok(from in RANKS, `${relative(SRC, file)}: folder ${from} has no layer in this test`);
      for (const target of imports) {
        const to = folderOf(target);
        if (to === from) continue;
        if ((RANKS[to] ?? 99) >= (RANKS[from] ?? -1))
          wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)} (${from} may not import ${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('no import cycles between modules', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue;
        if (state.get(next) === 'open')
          cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(SRC, f)).join(' → '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it('no source file is over 400 lines', () => {
    const long = all
      .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > 420);
    assert.deepEqual(long, []);
  });
});
