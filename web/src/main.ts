/**
 * xspectra lab: the browser UI. Plain DOM + TypeScript (a few controls and canvases do not need a
 * framework). Every change of the view schedules one update (latest wins): R, spectrum, scores,
 * decomposition and pixel flipping for the current input and parameters; then, in the
 * background, the curve of SSM / stability / sensitivity over the method's parameter.
 */
import './style.css';
import type { PixelFlippingResult } from '../../src/metrics/pixel-flipping.js';
import { loadOpenCv } from '../../src/metrics/telea.js';
import type { WebProvider } from '../../src/runtime/web.js';
import { type Analysis, resultJson } from '../../src/spectral/analyze.js';
import type { SpectralScores } from '../../src/spectral/scores.js';
import { LabModel } from './compute.js';
import { maxAbs, paintColourBar, paintHeatmap, paintInput } from './draw.js';
import { hasWebGpu, loadOrt } from './ort.js';
import { gammaAxis, linePlot } from './plots.js';
import {
  GAMMA_GRID,
  LAB_COMPOSITES,
  LAB_METHODS,
  type LabState,
  NOISE_GRID,
  nearestIndex,
  stateFromUrl,
  stateToUrl,
  sweptParameter,
} from './state.js';

const app = document.getElementById('app')!;
app.innerHTML = `
<header><h1>xspectra lab</h1>
  <span>spectral analysis of explanation quality (Maeß et al., 2025): stability 1/σ1, sensitivity ‖R‖<sub>F</sub>, SSM = ‖R‖<sub>F</sub>/σ1</span>
  <span class="privacy">Everything runs in this browser: models and images you drop never leave your machine.</span>
</header>
<main>
<section id="controls">
  <fieldset><legend>model</legend>
    <span id="model-name">loading…</span>
    <div id="drop">drop an ONNX image classifier or an image here, or <input type="file" id="file" accept=".onnx,image/*"></div>
    <label>runtime <select id="provider"><option value="wasm">WASM</option><option value="webgpu">WebGPU</option></select></label>
  </fieldset>
  <fieldset><legend>input</legend>
    <label>test digit <input type="number" id="digit" min="0" max="99" step="1"> <span id="digit-label"></span></label>
    <canvas id="draw" width="224" height="224" title="draw with the mouse"></canvas>
    <div><button id="clear">clear</button> <button id="reset-digit">back to the test digit</button></div>
  </fieldset>
  <fieldset><legend>method</legend>
    <label>method <select id="method">${LAB_METHODS.map((m) => `<option>${m}</option>`).join('')}</select></label>
    <label class="p-lrp">composite <select id="composite">${LAB_COMPOSITES.map((c) => `<option>${c}</option>`).join('')}</select></label>
    <label class="p-lrp">γ <input type="range" id="gamma-slider" min="0" max="${GAMMA_GRID.length - 1}" step="1"> <input type="number" id="gamma" min="0" step="any"></label>
    <label class="p-sg">noise <input type="range" id="noise-slider" min="-2" max="0" step="0.01"> <input type="number" id="noise" min="0" step="any"></label>
    <label class="p-sg">samples <input type="number" id="samples" min="1" max="1000" step="1"></label>
    <label class="p-sg">seed <input type="number" id="seed" min="0" step="1"></label>
    <label class="p-ig">steps <input type="number" id="steps" min="1" max="1000" step="1"></label>
    <small>γ slider: log scale (quarter decades and 0.25; far left γ = 0); any γ in the field. Shapley is left to the CLI (seconds to minutes per image).</small>
  </fieldset>
  <fieldset><legend>export</legend>
    <div><button id="export-json">JSON</button> <button id="export-png">PNG</button></div>
  </fieldset>
  <div id="problems"></div>
</section>
<section id="results">
  <div id="scores"></div>
  <h2>R: heat maps of all classes (columns E<sub>k</sub>/f<sub>k</sub>)</h2>
  <div class="maps" id="heatmaps"></div>
  <div class="colourbar"><span id="cb-lo"></span><canvas id="colourbar"></canvas><span id="cb-hi"></span></div>
  <h2>spectral decomposition of the predicted class: R·y = Σ σ<sub>i</sub>(v<sub>i</sub>ᵀy) u<sub>i</sub></h2>
  <div class="maps" id="decomposition"></div>
  <div class="plots"><div id="spectrum"></div><div id="pf"></div></div>
  <h2 id="curve-title">scores against the parameter</h2>
  <div class="plots" id="curve"></div>
</section>
</main>
<footer id="status">starting…</footer>`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $<HTMLElement>('status');
const scoresEl = $<HTMLElement>('scores');
const drawCanvas = $<HTMLCanvasElement>('draw');

interface Digits {
  images: Float32Array;
  labels: number[];
  n: number;
}

const parsed = stateFromUrl(location.search);
let state: LabState = parsed.state;
$('problems').textContent = parsed.problems.join('; ');
let ort: Awaited<ReturnType<typeof loadOrt>>;
let digits: Digits;
let lab: LabModel;
let modelNote = '';
/** the current model input, and a counter that changes with it */
let x: Float32Array = new Float32Array(0);
let inputVersion = 0;
let inputName = '';
let cvReady = false;
let last: { a: Analysis; pf?: PixelFlippingResult; ms: number; state: LabState } | undefined;
let updates = 0;

function setStatus(text: string, error = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
  if (error) scoresEl.dataset.error = text;
  else delete scoresEl.dataset.error;
}

// ---------- input: test digits, drawing, dropped images ----------

/** Model input from the drawing canvas (downscaled, luminance or RGB, then the model's preset). */
function inputFromCanvas(): Float32Array {
  const [C, H, W] = lab.shape;
  const small = document.createElement('canvas');
  small.width = W;
  small.height = H;
  const ctx = small.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(drawCanvas, 0, 0, W, H);
  const px = ctx.getImageData(0, 0, W, H).data;
  const p = lab.preset;
  const out = new Float32Array(C * H * W);
  for (let i = 0; i < H * W; i++) {
    const [r, g, b] = [px[4 * i] / 255, px[4 * i + 1] / 255, px[4 * i + 2] / 255];
    if (C === 1) out[i] = Math.fround((0.299 * r + 0.587 * g + 0.114 * b - p.mean[0]) / p.std[0]);
    else
      for (let c = 0; c < C; c++) out[c * H * W + i] = Math.fround(([r, g, b][c % 3] - p.mean[c]) / p.std[c]);
  }
  return out;
}

function digitImage(i: number): Float32Array {
  return digits.images.slice(i * 784, (i + 1) * 784);
}

/** Show a 28×28 digit on the drawing canvas (nearest neighbour, as the model sees it). */
function showDigitOnCanvas(img: Float32Array) {
  const c = document.createElement('canvas');
  paintInput(c, img, 1, 28, 28);
  const ctx = drawCanvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(c, 0, 0, drawCanvas.width, drawCanvas.height);
}

function isShippedShape(): boolean {
  return lab.shape.join(',') === '1,28,28';
}

function setInputFromDigit() {
  const img = digitImage(state.digit);
  showDigitOnCanvas(img);
  // the shipped model gets the digit's float values exactly (same numbers as `analyze --input mnist:N`)
  x = isShippedShape() ? img : inputFromCanvas();
  inputName = `mnist:${state.digit}`;
  $('digit-label').textContent = `label ${digits.labels[state.digit]}`;
  inputVersion++;
}

function setInputFromCanvas(name: string) {
  state.digit = -1;
  x = inputFromCanvas();
  inputName = name;
  $('digit-label').textContent = '';
  inputVersion++;
}

let drawing = false;
function strokeTo(e: PointerEvent, start: boolean) {
  const r = drawCanvas.getBoundingClientRect();
  const px = ((e.clientX - r.left) / r.width) * drawCanvas.width;
  const py = ((e.clientY - r.top) / r.height) * drawCanvas.height;
  const ctx = drawCanvas.getContext('2d')!;
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = drawCanvas.width / 11;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  if (start) {
    ctx.beginPath();
    ctx.moveTo(px, py);
  }
  ctx.lineTo(px, py);
  ctx.stroke();
}
drawCanvas.addEventListener('pointerdown', (e) => {
  drawing = true;
  drawCanvas.setPointerCapture(e.pointerId);
  strokeTo(e, true);
});
drawCanvas.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  strokeTo(e, false);
  setInputFromCanvas('drawing');
  schedule();
});
drawCanvas.addEventListener('pointerup', () => {
  if (!drawing) return;
  drawing = false;
  setInputFromCanvas('drawing');
  schedule();
});
$('clear').addEventListener('click', () => {
  const ctx = drawCanvas.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, drawCanvas.width, drawCanvas.height);
  setInputFromCanvas('drawing');
  schedule();
});
$('reset-digit').addEventListener('click', () => {
  state.digit = Math.max(0, Number($<HTMLInputElement>('digit').value) || 0);
  setInputFromDigit();
  schedule();
});

async function openImage(file: File) {
  const bmp = await createImageBitmap(file);
  const ctx = drawCanvas.getContext('2d')!;
  const s = Math.max(drawCanvas.width / bmp.width, drawCanvas.height / bmp.height); // cover, centre crop
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, drawCanvas.width, drawCanvas.height);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(
    bmp,
    (drawCanvas.width - bmp.width * s) / 2,
    (drawCanvas.height - bmp.height * s) / 2,
    bmp.width * s,
    bmp.height * s,
  );
  setInputFromCanvas(file.name);
}

async function openModel(bytes: Uint8Array, name: string, provider: WebProvider) {
  setStatus(`opening ${name}…`);
  const next = await LabModel.open(ort.ort, bytes, name, provider);
  const prev = lab;
  lab = next;
  if (prev) void prev.release();
  const [C, H, W] = lab.shape;
  modelNote = `${name} · input ${C}×${H}×${W} · ${lab.runner.outputSize} outputs · sha256 ${lab.model.hash.slice(0, 12)}…`;
  $('model-name').textContent = modelNote;
  $('model-name').title = lab.model.notes.join('\n');
  lastModelBytes = { bytes, name };
}
let lastModelBytes: { bytes: Uint8Array; name: string } | undefined;

async function openFile(file: File) {
  try {
    if (file.name.toLowerCase().endsWith('.onnx')) {
      await openModel(new Uint8Array(await file.arrayBuffer()), file.name, state.provider);
      if (state.digit >= 0) setInputFromDigit();
      else setInputFromCanvas(inputName);
    } else if (file.type.startsWith('image/')) await openImage(file);
    else throw new Error(`${file.name}: drop an .onnx model or an image (PNG, JPEG, …)`);
    schedule();
  } catch (e) {
    setStatus(`${(e as Error).message}`, true);
  }
}
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const f = e.dataTransfer?.files[0];
  if (f) void openFile(f);
});
$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void openFile(f);
});

// ---------- parameters ----------

const input = (id: string) => $<HTMLInputElement>(id);
function showControls() {
  $<HTMLSelectElement>('method').value = state.method;
  const comp = $<HTMLSelectElement>('composite');
  if (![...comp.options].some((o) => o.value === state.composite)) comp.add(new Option(state.composite));
  comp.value = state.composite;
  input('gamma').value = String(state.gamma);
  input('gamma-slider').value = String(nearestIndex(GAMMA_GRID, state.gamma));
  input('noise').value = String(state.noise);
  input('noise-slider').value = String(Math.log10(state.noise));
  input('samples').value = String(state.samples);
  input('seed').value = String(state.seed);
  input('steps').value = String(state.steps);
  input('digit').value = String(Math.max(0, state.digit));
  $<HTMLSelectElement>('provider').value = state.provider;
  for (const m of ['lrp', 'sg', 'ig'])
    for (const e of document.querySelectorAll(`.p-${m}`)) e.classList.toggle('hidden', state.method !== m);
}

function change(patch: Partial<LabState>) {
  state = { ...state, ...patch };
  showControls();
  history.replaceState(null, '', stateToUrl(state));
  schedule();
}

function numberInput(id: string, key: keyof LabState, ok: (v: number) => boolean) {
  input(id).addEventListener('change', () => {
    const v = Number(input(id).value);
    if (ok(v)) change({ [key]: v });
    else setStatus(`${key}: ${input(id).value} is not valid`, true);
  });
}
$<HTMLSelectElement>('method').addEventListener('change', (e) =>
  change({ method: (e.target as HTMLSelectElement).value as LabState['method'] }),
);
$<HTMLSelectElement>('composite').addEventListener('change', (e) =>
  change({ composite: (e.target as HTMLSelectElement).value }),
);
input('gamma-slider').addEventListener('input', () =>
  change({ gamma: GAMMA_GRID[Number(input('gamma-slider').value)] }),
);
input('noise-slider').addEventListener('input', () =>
  change({ noise: Number((10 ** Number(input('noise-slider').value)).toPrecision(2)) }),
);
numberInput('gamma', 'gamma', (v) => v >= 0);
numberInput('noise', 'noise', (v) => v > 0 && Number.isFinite(v));
numberInput('samples', 'samples', (v) => Number.isInteger(v) && v >= 1 && v <= 1000);
numberInput('seed', 'seed', (v) => Number.isInteger(v) && v >= 0);
numberInput('steps', 'steps', (v) => Number.isInteger(v) && v >= 1 && v <= 1000);
input('digit').addEventListener('change', () => {
  const v = Number(input('digit').value);
  if (!(Number.isInteger(v) && v >= 0 && v < digits.n))
    return setStatus(`test digits are 0..${digits.n - 1}`, true);
  state.digit = v;
  setInputFromDigit();
  change({});
});
$<HTMLSelectElement>('provider').addEventListener('change', async (e) => {
  const provider = (e.target as HTMLSelectElement).value as WebProvider;
  try {
    if (lastModelBytes) await openModel(lastModelBytes.bytes, lastModelBytes.name, provider);
    change({ provider });
  } catch (err) {
    setStatus((err as Error).message, true);
  }
});

// ---------- update loop ----------

let running = false;
let dirty = false;
function schedule() {
  dirty = true;
  if (!running) void loop();
}

async function loop() {
  running = true;
  scoresEl.dataset.busy = '1'; // for scripts: an update is pending or running
  while (dirty) {
    dirty = false;
    try {
      await update();
    } catch (e) {
      setStatus(`error: ${(e as Error).message}`, true);
    }
  }
  running = false;
  delete scoresEl.dataset.busy;
  void runCurve();
}

async function update() {
  const t0 = performance.now();
  const s = { ...state };
  const a = await lab.analyze(x, s);
  const t1 = performance.now();
  const pf = cvReady ? await lab.pixelFlipping(x, a) : undefined;
  const t2 = performance.now();
  last = { a, pf, ms: 0, state: s };
  render(a, pf, s);
  const ms = performance.now() - t0;
  last.ms = ms;
  updates++;
  const sc = scoresEl.dataset;
  sc.updateMs = String(ms);
  sc.updates = String(updates);
  sc.state = stateToUrl(s);
  sc.input = inputName;
  const threads = lab.provider === 'wasm' ? `${ort.threads} thread${ort.threads > 1 ? 's' : ''}` : '';
  setStatus(
    `updated in ${ms.toFixed(1)} ms (R ${a.timing.attributionMs.toFixed(1)} ms, spectrum ${a.timing.spectrumMs.toFixed(1)} ms, ` +
      `pixel flipping ${pf ? `${(t2 - t1).toFixed(1)} ms` : 'waiting for OpenCV.js'}, drawing ${(performance.now() - t2).toFixed(1)} ms) · ` +
      `${lab.provider} ${threads} · ${globalThis.crossOriginIsolated ? 'cross-origin isolated' : 'not isolated: single thread'}`,
  );
}

function fmt(v: number): string {
  return Number.isFinite(v)
    ? Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3
      ? v.toExponential(4)
      : v.toPrecision(5)
    : String(v);
}

function render(a: Analysis, pf: PixelFlippingResult | undefined, s: LabState) {
  const sc = a.scores;
  const d = scoresEl.dataset;
  d.sigma1 = String(sc.sigma1);
  d.stability = String(sc.stability);
  d.sensitivity = String(sc.sensitivity);
  d.ssm = String(sc.ssm);
  d.effectiveRank = String(sc.effectiveRank);
  d.l1Norm = String(sc.l1Norm);
  d.predicted = String(a.predicted);
  d.singularValues = JSON.stringify(a.svd.singularValues);
  if (pf) d.pfAuc = String(pf.auc);
  scoresEl.innerHTML = `<table><tr>
    <td>predicted <b>${a.predicted}</b> (f = ${fmt(a.matrix.outputs[a.predicted])})</td>
    <td>σ1 ${fmt(sc.sigma1)}</td><td>stability 1/σ1 <b>${fmt(sc.stability)}</b></td>
    <td>sensitivity ‖R‖<sub>F</sub> <b>${fmt(sc.sensitivity)}</b></td><td>SSM <b>${fmt(sc.ssm)}</b></td>
    <td>eff. rank ${fmt(sc.effectiveRank)}</td><td>‖R‖<sub>1</sub> ${fmt(sc.l1Norm)}</td>
    ${pf ? `<td>PF-AUC ${fmt(pf.auc)}</td>` : ''}</tr></table>`;
  const [H, W] = a.matrix.featureShape.slice(-2);
  const { R, c, columns, outputs } = a.matrix;
  // columns of R: at most 10, the largest outputs first when there are more
  let shown = columns.map((k, j) => ({ k, j }));
  if (shown.length > 10)
    shown = shown
      .sort((p, q) => outputs[q.k] - outputs[p.k])
      .slice(0, 10)
      .sort((p, q) => p.k - q.k);
  const cols = shown.map(({ j }) => {
    const col = new Float64Array(a.matrix.d);
    for (let i = 0; i < col.length; i++) col[i] = R[i * c + j];
    return col;
  });
  const lim = maxAbs(cols);
  const maps = $('heatmaps');
  maps.replaceChildren(
    ...shown.map(({ k }, i) => {
      const inactive = a.matrix.inactiveOutputs.includes(k);
      return mapFigure(
        cols[i],
        H,
        W,
        lim,
        `${k}: f=${fmt(outputs[k])}${inactive ? ' (inactive)' : ''}`,
        k === a.predicted,
      );
    }),
  );
  paintColourBar($<HTMLCanvasElement>('colourbar'));
  $('cb-lo').textContent = fmt(-lim);
  $('cb-hi').textContent = `${fmt(lim)} (shared by all classes)`;
  const dc = a.decomposition!;
  const parts = [dc.explanation, ...dc.components, dc.remainder];
  const dlim = maxAbs(parts);
  $('decomposition').replaceChildren(
    inputFigure(),
    mapFigure(dc.explanation, H, W, dlim, `E${dc.target} = Σ`, true),
    ...dc.components.map((m, i) => mapFigure(m, H, W, dlim, `i=${i + 1}: ${fmt(dc.weights[i])}`, false)),
    mapFigure(dc.remainder, H, W, dlim, 'remainder', false),
  );
  const sv = a.svd.singularValues;
  $('spectrum').replaceChildren(
    linePlot([{ x: sv.map((_, i) => i + 1), y: sv, colour: '#236', dots: true }], {
      title: 'singular values σi of R',
      xLabel: 'i',
      yLog: true,
    }),
  );
  $('pf').replaceChildren(
    pf
      ? linePlot(
          [{ x: pf.curve.map((_, t) => t / (pf.curve.length - 1)), y: pf.curve, colour: '#a32', dots: true }],
          {
            title: `pixel flipping, class ${pf.target} (Telea, ${pf.budget} px): AUC ${fmt(pf.auc)}`,
            xLabel: 'fraction of the budget flipped',
            width: 380,
          },
        )
      : document.createTextNode('pixel flipping: loading OpenCV.js…'),
  );
  renderCurve(s, sc);
}

function mapFigure(
  h: ArrayLike<number>,
  H: number,
  W: number,
  lim: number,
  label: string,
  strong: boolean,
): HTMLElement {
  const fig = document.createElement('div');
  fig.className = `map${strong ? ' predicted' : ''}`;
  const cv = document.createElement('canvas');
  paintHeatmap(cv, h, H, W, lim);
  fig.append(cv, document.createTextNode(label));
  return fig;
}

function inputFigure(): HTMLElement {
  const fig = document.createElement('div');
  fig.className = 'map';
  const cv = document.createElement('canvas');
  const [C, H, W] = lab.shape;
  paintInput(cv, x, C, H, W);
  fig.append(cv, document.createTextNode(`input ${inputName}`));
  return fig;
}

// ---------- live curve over γ or noise ----------

let curve:
  | { key: string; param: 'gamma' | 'noise'; grid: number[]; scores: (SpectralScores | undefined)[] }
  | undefined;

function curveKey(s: LabState): string {
  const p = sweptParameter(s.method);
  return JSON.stringify([
    lab.model.hash,
    lab.provider,
    inputVersion,
    s.method,
    s.composite,
    s.samples,
    s.seed,
    p === 'gamma' ? s.noise : 0,
  ]);
}

async function runCurve() {
  const s = { ...state };
  const param = sweptParameter(s.method);
  if (!param || !last) return;
  const key = curveKey(s);
  if (curve?.key === key && curve.scores.every((v) => v)) return;
  if (curve?.key !== key) {
    const grid = param === 'gamma' ? GAMMA_GRID : NOISE_GRID;
    curve = { key, param, grid, scores: grid.map(() => undefined) };
  }
  const progress = () => {
    scoresEl.dataset.curvePoints = String(curve!.scores.filter(Boolean).length);
    scoresEl.dataset.curveTotal = String(curve!.grid.length);
  };
  progress(); // synchronously, before the first await: scripts see a restarted curve at once
  const c = curve;
  const xIn = x;
  for (let i = 0; i < c.grid.length; i++) {
    if (c.scores[i]) continue;
    if (running || curve !== c || curveKey(state) !== key) return; // superseded: the next update restarts it
    try {
      c.scores[i] = await lab.scoresAt(xIn, s, { [param]: c.grid[i] });
    } catch (e) {
      setStatus(`curve at ${param} = ${c.grid[i]}: ${(e as Error).message}`, true);
      return;
    }
    progress();
    if (!running && last) renderCurve(last.state, last.a.scores);
  }
}

function renderCurve(s: LabState, current: SpectralScores) {
  const el = $('curve');
  const param = sweptParameter(s.method);
  if (!param) {
    $('curve-title').textContent =
      `scores against a parameter: ${s.method} has none in the lab (γ for LRP, noise for SmoothGrad)`;
    el.replaceChildren();
    return;
  }
  $('curve-title').textContent =
    `SSM, stability and sensitivity against ${param === 'gamma' ? 'γ' : 'the noise level'} (red: current value)`;
  const c = curve && curve.key === curveKey(s) ? curve : undefined;
  const idx = c ? c.grid.map((_, i) => i).filter((i) => c.scores[i]) : [];
  const xs = c ? idx.map((i) => c.grid[i]) : [];
  const ax = param === 'gamma' ? gammaAxis() : undefined;
  const xScale = param === 'gamma' ? ax!.scale : (v: number) => Math.log10(v);
  const xTicks =
    param === 'gamma'
      ? ax!.ticks
      : NOISE_GRID.filter((_, i) => i % 3 === 0).map((v) => ({ at: v, label: String(v) }));
  const cur = s[param];
  const plots = (
    [
      ['SSM ‖R‖F/σ1', 'ssm', '#236'],
      ['stability 1/σ1', 'stability', '#262'],
      ['sensitivity ‖R‖F', 'sensitivity', '#a32'],
    ] as const
  ).map(([title, k, colour]) =>
    linePlot([{ x: xs, y: idx.map((i) => c!.scores[i]![k]), colour, dots: true }], {
      title: `${title}${c && idx.length < c.grid.length ? ` (${idx.length}/${c.grid.length})` : ''}`,
      xLabel: param === 'gamma' ? 'γ (log scale; 0 at the left)' : 'noise level s (log scale)',
      xScale,
      xTicks,
      markerX: cur,
      markerY: current[k],
      width: 260,
      height: 150,
    }),
  );
  el.replaceChildren(...plots);
}

// ---------- export ----------

function download(name: string, blob: Blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** The current state as JSON: the view (URL), the model, the input and every computed number. */
export function exportState(): Record<string, unknown> {
  if (!last) throw new Error('nothing computed yet');
  const { a, pf, state: s } = last;
  return {
    // the fields of `analyze --json` first; `input` and `timing` are extended below
    ...resultJson(a, inputName, s.digit >= 0 ? digits.labels[s.digit] : undefined),
    schema: 'xspectra.lab/1',
    view: stateToUrl(s),
    model: { name: lab.name, hash: lab.model.hash, notes: lab.model.notes, inputShape: lab.model.inputShape },
    input: { id: inputName, label: s.digit >= 0 ? digits.labels[s.digit] : undefined, x: Array.from(x) },
    method: { spec: lab.spec(s), features: 'pixels', inactive: 'zero' },
    R: { d: a.matrix.d, c: a.matrix.c, rowMajor: Array.from(a.matrix.R) },
    pixelFlipping: pf && {
      target: pf.target,
      budget: pf.budget,
      counts: pf.counts,
      curve: pf.curve,
      auc: pf.auc,
      aucNorm: pf.aucNorm,
    },
    curve:
      curve && curve.key === curveKey(s)
        ? { parameter: curve.param, grid: curve.grid, scores: curve.scores }
        : undefined,
    timing: { updateMs: last.ms, ...a.timing },
  };
}

$('export-json').addEventListener('click', () => {
  try {
    download(
      'xspectra-lab.json',
      new Blob([JSON.stringify(exportState(), null, 1)], { type: 'application/json' }),
    );
  } catch (e) {
    setStatus((e as Error).message, true);
  }
});

/** The results panel as one PNG: heat maps, colour bar, decomposition and the scores line. */
export function exportPng(): HTMLCanvasElement {
  const rows = [$('heatmaps'), $('decomposition')].map((r) => [...r.querySelectorAll('canvas')]);
  const cell = 84;
  const per = Math.max(...rows.map((r) => r.length));
  const out = document.createElement('canvas');
  out.width = Math.max(per * (cell + 6), 700);
  out.height = 40 + rows.length * (cell + 20) + 30;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#000';
  ctx.font = '12px sans-serif';
  const d = scoresEl.dataset;
  ctx.fillText(`${modelNote} · ${inputName} · ${stateToUrl(last!.state)}`, 4, 14);
  ctx.fillText(
    `predicted ${d.predicted} · σ1 ${d.sigma1} · sensitivity ${d.sensitivity} · SSM ${d.ssm}`,
    4,
    30,
  );
  ctx.imageSmoothingEnabled = false;
  for (const [j, r] of rows.entries())
    for (const [i, cv] of r.entries()) ctx.drawImage(cv, i * (cell + 6), 40 + j * (cell + 20), cell, cell);
  ctx.drawImage($<HTMLCanvasElement>('colourbar'), 4, out.height - 24, 200, 12);
  ctx.fillText(`${$('cb-lo').textContent} … ${$('cb-hi').textContent}`, 210, out.height - 14);
  return out;
}

$('export-png').addEventListener('click', () => {
  exportPng().toBlob((b) => b && download('xspectra-lab.png', b), 'image/png');
});

// for scripts (tests, the bench): the same objects the export buttons download
(globalThis as unknown as { xspectraLab: unknown }).xspectraLab = { exportState, exportPng };

// ---------- start ----------

async function start() {
  ort = await loadOrt();
  const webgpu = await hasWebGpu();
  const prov = $<HTMLSelectElement>('provider');
  prov.options[1].disabled = !webgpu;
  if (!webgpu) prov.options[1].textContent = 'WebGPU (not available in this browser)';
  if (state.provider === 'webgpu' && !webgpu) {
    $('problems').textContent += ' WebGPU is not available here; using WASM.';
    state.provider = 'wasm';
  }
  const [bin, meta] = await Promise.all([
    fetch('./digits.bin').then((r) => r.arrayBuffer()),
    fetch('./digits.json').then((r) => r.json()),
  ]);
  digits = { images: new Float32Array(bin), labels: meta.labels, n: meta.n };
  if (state.digit >= digits.n) state.digit = 0;
  // `xspectra lab --model M.onnx` announces its model; as plain static files there is none
  const config: { model?: string; name?: string } = await fetch('./lab-config.json')
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  const url = config.model ?? './mnist-cnn.onnx';
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  await openModel(bytes, config.name ?? 'mnist-cnn.onnx (shipped)', state.provider);
  if (state.digit < 0) state.digit = 0;
  setInputFromDigit();
  showControls();
  history.replaceState(null, '', stateToUrl(state));
  schedule();
  loadOpenCv().then(
    () => {
      cvReady = true;
      scoresEl.dataset.opencv = 'ready';
      schedule();
    },
    (e: Error) => setStatus(`OpenCV.js: ${e.message}`, true),
  );
}

start().catch((e: Error) => setStatus(`could not start: ${e.message}`, true));
