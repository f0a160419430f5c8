/**
 * IDX reader (the file format of the original MNIST / Fashion-MNIST distributions), on bytes;
 * `readIdxFile` in data/idx-file.ts adds file access and gunzip for Node.
 */
export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { bytes: number; name: string }> = {
  8: { bytes: 1, name: 'uint8' },
  9: { bytes: 1, name: 'int8' },
  11: { bytes: 2, name: 'int16' },
  12: { bytes: 4, name: 'int32' },
  13: { bytes: 4, name: 'float32' },
  14: { bytes: 8, name: 'float64' },
};

/** IDX data that cannot be used; the message names the file */
export class IdxError extends Error {}

export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    throw new IdxError(`${name}: not an IDX file (bad magic)`);
  const type = TYPES[bytes[2]];
  if (!type) throw new IdxError(`${name}: unknown IDX data type 0x${bytes[2].toString(16)}`);
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new IdxError(`${name}: truncated header`);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * rank;
  if (!Number.isSafeInteger(off + n * type.bytes))
    throw new IdxError(`${name}: dims [${shape}] are too large`);
  if (bytes.length > off + n * type.bytes)
    throw new IdxError(
      `${name}: ${bytes.length - off - n * type.bytes} bytes after the data of dims [${shape}]`,
    );
  if (bytes.length < off + n * type.bytes)
    throw new IdxError(`${name}: truncated (${bytes.length} bytes, need ${off + n * type.bytes})`);
  const read = (i: number): number => {
    const p = off + i * type.bytes;
    switch (bytes[2]) {
      case 0x08:
        return bytes[p];
      case 0x09:
        return view.getInt8(p);
      case 0x0b:
        return view.getInt16(p, false);
      case 0x0c:
        return view.getInt32(p, false);
      case 0x0d:
        return view.getFloat32(p, false);
      default:
        return view.getFloat64(p, false);
    }
  };
  if (bytes[2] === 0x08) return { shape, data: bytes.slice(off, off + n) };
  const data =
    bytes[2] === 0x09
      ? new Int8Array(n)
      : bytes[2] === 0x0b
        ? new Int16Array(n)
        : bytes[2] === 0x0c
          ? new Int32Array(n)
          : bytes[2] === 0x0d
            ? new Float32Array(n)
            : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = read(i);
  return { shape, data };
}

/** IDX images (n, H, W) uint8 → model inputs [n, 1, H, W] in [0, 1] */
export function idxImagesToInputs(a: IdxArray, name = 'IDX data'): Float32Array {
  if (a.shape.length !== 3)
    throw new IdxError(`${name}: IDX images must have 3 dims (n, H, W), got [${a.shape}]`);
  return Float32Array.from(a.data, (v) => v / 255);
}
