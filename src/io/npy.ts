/**
 * NumPy .npy (format 1.0/2.0) reader and writer. Hand-written because the format is ~40 lines
 * and the npm packages for it are unmaintained or pull in Node-only dependencies; the core must
 * stay platform-neutral (bytes in, bytes out).
 */
export type NpyData = Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;

export interface NpyArray<T extends NpyData = NpyData> {
  shape: number[];
  data: T;
}

const DTYPES: Record<string, (buf: ArrayBuffer, off: number, n: number) => NpyData> = {
  '<f4': (b, o, n) => new Float32Array(b.slice(o, o + 4 * n)),
  '<f8': (b, o, n) => new Float64Array(b.slice(o, o + 8 * n)),
  '<i4': (b, o, n) => new Int32Array(b.slice(o, o + 4 * n)),
  '<i8': (b, o, n) => new BigInt64Array(b.slice(o, o + 8 * n)),
  '|u1': (b, o, n) => new Uint8Array(b.slice(o, o + n)),
  '|b1': (b, o, n) => new Uint8Array(b.slice(o, o + n)),
};
const BYTES: Record<string, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1, '|b1': 1 };

export class NpyError extends Error {}

export function parseNpy(bytes: Uint8Array, name = 'npy data'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new NpyError(`${name}: not a .npy file (bad magic bytes)`);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new NpyError(`${name}: unsupported .npy format version ${major}`);
  if (major > 1 && bytes.length < 12) throw new NpyError(`${name}: truncated header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLen > bytes.length)
    throw new NpyError(
      `${name}: truncated header (${headerLen} bytes announced, ${bytes.length - headerStart} present)`,
    );
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new NpyError(`${name}: malformed .npy header`);
  const make = DTYPES[descr];
  if (!make)
    throw new NpyError(`${name}: unsupported dtype ${descr} (supported: ${Object.keys(DTYPES).join(', ')})`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const bad = shape.find((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad !== undefined) throw new NpyError(`${name}: shape (${shapeText}) holds ${bad}, not a size`);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  const need = offset + n * BYTES[descr];
  if (!Number.isSafeInteger(need) || bytes.length < need) {
    throw new NpyError(`${name}: truncated (${bytes.length} bytes, shape (${shapeText}) needs ${need})`);
  }
  if (bytes.length > need)
    throw new NpyError(`${name}: ${bytes.length - need} bytes after the data of shape (${shapeText})`);
  // copy into a fresh buffer: Node Buffers are views into a shared pool, so `.slice` would alias it
  const copy = new Uint8Array(n * BYTES[descr]);
  copy.set(bytes.subarray(offset, offset + n * BYTES[descr]));
  const data = make(copy.buffer, 0, n);
  return { shape, data: fortran === 'True' ? toRowMajor(data, shape) : data };
}

/** Fortran (column-major) order → C (row-major) order, any rank (R spilled to disk is column-major) */
function toRowMajor<T extends NpyData>(data: T, shape: number[]): T {
  if (shape.length < 2) return data;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const stride = shape.map((_, k) => shape.slice(0, k).reduce((a, b) => a * b, 1));
  const idx = new Array<number>(shape.length).fill(0);
  for (let q = 0; q < data.length; q++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += idx[k] * stride[k];
    out[q] = data[src];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

function descrOf(data: NpyData): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  return '|u1';
}

/** The magic, version and header of a .npy file (format 1.0), padded to 64 bytes */
export function npyHeader(descr: string, shape: number[], fortranOrder = false): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

export function encodeNpy(arr: NpyArray): Uint8Array {
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (n !== arr.data.length)
    throw new NpyError(`shape ${arr.shape} does not match ${arr.data.length} elements`);
  const header = npyHeader(descrOf(arr.data), arr.shape);
  const out = new Uint8Array(header.length + arr.data.byteLength);
  out.set(header);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), header.length);
  return out;
}

export function asFloat32(arr: NpyArray, name: string): NpyArray<Float32Array> {
  if (arr.data instanceof Float32Array) return arr as NpyArray<Float32Array>;
  if (arr.data instanceof Float64Array) return { shape: arr.shape, data: Float32Array.from(arr.data) };
  throw new NpyError(`${name}: expected float32 or float64 data`);
}
