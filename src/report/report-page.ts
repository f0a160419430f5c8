/**
 * A report as a list of sections (headings, bullet lists, Markdown tables, figures), written
 * both as report.md and as a self-contained index.html next to its figures.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; header: string[]; rows: string[][] }
  | { kind: 'figures'; figures: { file: string; caption: string }[] }
  | { kind: 'text'; text: string };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function toMarkdown(title: string, blocks: Block[]): string {
  const out = [`# ${title}`, ''];
  for (const b of blocks) {
    if (b.kind === 'heading') out.push(`## ${b.text}`, '');
    else if (b.kind === 'text') out.push(b.text, '');
    else if (b.kind === 'list') out.push(...b.items.map((i) => `- ${i}`), '');
    else if (b.kind === 'table')
      out.push(
        `| ${b.header.map(cell).join(' | ')} |`,
        `|${b.header.map(() => '---').join('|')}|`,
        ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
        '',
      );
    else for (const f of b.figures) out.push(`![${f.caption}](${f.file})`, '', `*${f.caption}*`, '');
  }
  return out.join('\n');
}

export function toHtml(title: string, blocks: Block[]): string {
  const body = blocks
    .map((b) => {
      if (b.kind === 'heading') return `<h2>${esc(b.text)}</h2>`;
      if (b.kind === 'text') return `<p>${esc(b.text)}</p>`;
      if (b.kind === 'list') return `<ul>${b.items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
      if (b.kind === 'table')
        return `<table><tr>${b.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${b.rows
          .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
          .join('')}</table>`;
      return b.figures
        .map(
          (f) =>
            `<figure><img src="${esc(f.file)}" alt="${esc(f.caption)}"><figcaption>${esc(f.caption)}</figcaption></figure>`,
        )
        .join('');
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}figure{display:inline-block;margin:8px;vertical-align:top;max-width:480px}figure img{max-width:100%}figcaption{font-size:12px}</style></head><body>
<h1>${esc(title)}</h1>
${body}
</body></html>`;
}

export function writeReport(dir: string, title: string, blocks: Block[]): void {
  writeFileSync(join(dir, 'report.md'), toMarkdown(title, blocks));
  writeFileSync(join(dir, 'index.html'), toHtml(title, blocks));
}
