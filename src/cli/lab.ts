/**
 * `xspectra lab`: serve the built browser lab (dist/web, made by `npm run build:web`) on 127.0.0.1
 * only, with the cross-origin isolation headers (COOP/COEP) that WASM threads need. Node only.
 * With --model the given ONNX file is served as /user-model.onnx and announced in /lab-config.json;
 * as plain static files (no such route) the app falls back to the shipped model.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, extname, join, normalize, sep } from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../api/node.js';
import { loadModelFile } from '../model/load-file.js';
import { num } from './common.js';

export const LAB_ROOT = join(PACKAGE_ROOT, 'dist', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Headers for cross-origin isolation (SharedArrayBuffer → WASM threads). */
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface LabServerOptions {
  port?: number;
  /** an ONNX model to offer instead of the shipped one */
  model?: string;
  root?: string;
}

export async function startLabServer(opts: LabServerOptions = {}): Promise<{ server: Server; url: string }> {
  const root = opts.root ?? LAB_ROOT;
  if (!existsSync(join(root, 'index.html')))
    throw new Error(
      `the lab is not built (${join(root, 'index.html')} is missing): run "npm run build:web" in ${PACKAGE_ROOT}`,
    );
  let modelBytes: Uint8Array | undefined;
  if (opts.model) {
    loadModelFile(opts.model); // fail here, naming the file, rather than in the browser
    modelBytes = readFileSync(opts.model);
  }
  const config = JSON.stringify(opts.model ? { model: 'user-model.onnx', name: basename(opts.model) } : {});
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const send = (code: number, type: string, body?: string | Uint8Array) => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-cache', ...ISOLATION });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'GET only');
    if (path === '/lab-config.json') return send(200, TYPES['.json'], config);
    if (path === '/user-model.onnx' && modelBytes) return send(200, TYPES['.onnx'], modelBytes);
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile())
      return send(404, 'text/plain', `not found: ${path}`);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-cache',
      ...ISOLATION,
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `--port ${opts.port}: already in use` : e.message)),
    );
    server.listen(opts.port ?? 5175, '127.0.0.1', resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, url: `http://127.0.0.1:${port}/` };
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description(
      'serve the browser lab on 127.0.0.1 (explanation quality, interactively; runs in the browser)',
    )
    .option('--port <p>', 'port (0: any free port)', num('--port'), 5175)
    .option('--model <file>', 'ONNX image classifier to open instead of the shipped MNIST CNN')
    .action(async (o) => {
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
        throw new Error(`--port expects an integer 0..65535, got ${o.port}`);
      const { server, url } = await startLabServer({ port: o.port, model: o.model });
      process.stdout.write(`xspectra lab: ${url}  (127.0.0.1 only; Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
