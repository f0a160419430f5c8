/** Code blocks of README.md, so that tests run exactly what the README shows. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** The fenced block that follows `<!-- library-example: NAME -->` */
export function readmeExample(name: string): string {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = text.match(new RegExp(`<!-- library-example: ${name} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``));
  if (!m) throw new Error(`README.md has no example "${name}"`);
  return m[1];
}

/**
 * Examples that need a server running beside them, and the test that runs each of them instead
 * (with a Redis it starts on a free loopback port, or the lab served on a free port).
 */
export const SERVER_EXAMPLES: { pattern: RegExp; test: string }[] = [
  { pattern: /--queue redis:\/\/HOST/, test: 'test/queue.test.ts' },
  { pattern: /^npx xspectra lab\b/, test: 'test/helpers/lab.ts' },
];

/** Every indented (4-space) line of README.md that starts with `npx xspectra` */
export function readmeLines(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return text
    .split('\n')
    .filter((l) => /^ {4}npx xspectra /.test(l))
    .map((l) => l.trim());
}

/** The README commands that run on their own (SERVER_EXAMPLES are run by their own tests) */
export function readmeCommands(): string[] {
  return readmeLines().filter((l) => !SERVER_EXAMPLES.some((s) => s.pattern.test(l)));
}
