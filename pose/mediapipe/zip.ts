// A MediaPipe `.task` is a zip with STORE (uncompressed) members. Writer and reader for that case only
// (PKWARE APPNOTE 6.3.x: local headers, central directory, end of central directory; no zip64).
import zlib from 'node:zlib';

/** CRC-32 (IEEE) of a member, as zip stores it (node:zlib's implementation). */
export function crc32(data: Uint8Array): number {
  return zlib.crc32(data) >>> 0;
}

// MS-DOS date 1980-01-01 00:00 so that the archive bytes depend on the members only.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

export function zipStore(entries: ReadonlyArray<readonly [name: string, data: Uint8Array]>): Buffer {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(10, 4); // version needed 1.0
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // method STORE
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4); // made by
    dir.writeUInt16LE(10, 6);
    dir.writeUInt16LE(DOS_TIME, 12);
    dir.writeUInt16LE(DOS_DATE, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, n, data);
    central.push(dir, n);
    offset += local.length + n.length + data.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dirBytes, end]);
}

/** Members of a STORE zip (throws on compressed members or a bad CRC). */
export function unzipStore(zip: Uint8Array): Map<string, Uint8Array> {
  const z = Buffer.from(zip.buffer, zip.byteOffset, zip.length);
  let end = -1;
  for (let p = z.length - 22; p >= Math.max(0, z.length - 22 - 0xffff); p--) {
    if (z.readUInt32LE(p) === 0x06054b50) { end = p; break; }
  }
  if (end < 0) throw new Error('not a zip file (no end of central directory)');
  const count = z.readUInt16LE(end + 10);
  let p = z.readUInt32LE(end + 16);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    if (z.readUInt32LE(p) !== 0x02014b50) throw new Error('zip: bad central directory');
    const method = z.readUInt16LE(p + 10);
    const crc = z.readUInt32LE(p + 16);
    const size = z.readUInt32LE(p + 20);
    const nameLen = z.readUInt16LE(p + 28);
    const extraLen = z.readUInt16LE(p + 30);
    const commentLen = z.readUInt16LE(p + 32);
    const local = z.readUInt32LE(p + 42);
    const name = z.toString('utf8', p + 46, p + 46 + nameLen);
    if (method !== 0) throw new Error(`zip: member ${name} is compressed (method ${method})`);
    const start = local + 30 + z.readUInt16LE(local + 26) + z.readUInt16LE(local + 28);
    const data = z.subarray(start, start + size);
    if (crc32(data) !== crc) throw new Error(`zip: CRC mismatch in ${name}`);
    out.set(name, data);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
