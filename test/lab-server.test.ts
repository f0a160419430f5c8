/** `xspectra lab`'s server without a browser: headers, the --model route, errors. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabServer } from '../src/cli/lab.js';
import { FIXTURES } from './helpers/fixtures.js';

describe('lab server', () => {
  const root = mkdtempSync(join(tmpdir(), 'xspectra-lab-'));
  const model = join(FIXTURES, 'models', 'vgg-mini-bn.onnx');
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>lab</title>');
    const s = await startLabServer({ port: 0, root, model });
    url = s.url;
    close = () => s.server.close();
  });
  afterAll(() => close?.());

  it('listens on 127.0.0.1 and sends the cross-origin isolation headers', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(r.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await r.text()).toContain('<title>lab</title>');
  });

  it('offers --model as /user-model.onnx, announced in /lab-config.json', async () => {
    const cfg = await (await fetch(`${url}lab-config.json`)).json();
    expect(cfg).toEqual({ model: 'user-model.onnx', name: 'vgg-mini-bn.onnx' });
    const bytes = new Uint8Array(await (await fetch(`${url}user-model.onnx`)).arrayBuffer());
    expect(Buffer.from(bytes).equals(readFileSync(model))).toBe(true);
  });

  it('refuses paths outside its folder and unknown files', async () => {
    expect((await fetch(`${url}..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    expect((await fetch(`${url}nope.js`)).status).toBe(404);
  });

  it('names the missing build and a bad model', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'xspectra-lab-empty-'));
    await expect(startLabServer({ port: 0, root: empty })).rejects.toThrow(/npm run build:web/);
    const bad = join(root, 'bad.onnx');
    writeFileSync(bad, 'not onnx');
    await expect(startLabServer({ port: 0, root, model: bad })).rejects.toThrow(/bad\.onnx/);
  });
});
