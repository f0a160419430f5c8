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

/** Every indented (4-space) line of README.md that starts with `npx xspectra` */
export function readmeCommands(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return text
    .split('\n')
    .filter((l) => /^ {4}npx xspectra /.test(l))
    .map((l) => l.trim());
}
