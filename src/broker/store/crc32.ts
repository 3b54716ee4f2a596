import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE, as zlib and Walrus's checksums use). Node ≥ 20.15 has a
 * native `zlib.crc32`; older Node 20 releases get this table-driven
 * fallback, so `engines: >=20` holds and the on-disk format is identical.
 */
type Crc32 = (data: Uint8Array) => number;

const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

let table: Int32Array | undefined;

function portableCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export const crc32: Crc32 = native ?? portableCrc32;

/** Exposed for the test that pins the fallback to the native result. */
export const crc32Portable: Crc32 = portableCrc32;
