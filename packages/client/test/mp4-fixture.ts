/**
 * A tiny but structurally valid MP4 built box by box (ISO/IEC 14496-12), since there is no
 * encoder here: ftyp, moov (mvhd, one video trak down to an empty sample table) and mdat. It has
 * no frames, which is all a probe reading the moov needs.
 */

export interface Mp4FixtureOptions {
  width: number;
  height: number;
  /** Movie timescale units per second. */
  timescale?: number;
  durationMs: number;
  /** Recorded rotated by 90° (tkhd matrix), as phones store portrait clips. */
  rotate90?: boolean;
  /** Media bytes; placed after moov unless `moovLast`. */
  mdatBytes?: number;
  moovLast?: boolean;
}

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, "latin1"), body]);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  return box(type, u8(version), Buffer.from([(flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff]), ...payload);
}

function matrix(rotate90: boolean): Buffer {
  // 16.16 fixed point a, b, u, c, d, v, x, y, w (u, v, w are 2.30).
  const m = rotate90 ? [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000] : [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];
  return Buffer.concat(m.map(u32));
}

export function buildMp4(o: Mp4FixtureOptions): Buffer {
  const timescale = o.timescale ?? 1000;
  const duration = Math.round((o.durationMs * timescale) / 1000);
  const ftyp = box("ftyp", Buffer.from("isom", "latin1"), u32(0x200), Buffer.from("isomiso2avc1mp41", "latin1"));
  const mvhd = fullBox(
    "mvhd", 0, 0,
    u32(0), u32(0), u32(timescale), u32(duration),
    u32(0x00010000), u16(0x0100), zeros(10), matrix(false), zeros(24), u32(2),
  );
  const tkhd = fullBox(
    "tkhd", 0, 3,
    u32(0), u32(0), u32(1), zeros(4), u32(duration), zeros(8),
    u16(0), u16(0), u16(0), zeros(2), matrix(o.rotate90 ?? false),
    u32(o.width * 0x10000), u32(o.height * 0x10000),
  );
  const mdhd = fullBox("mdhd", 0, 0, u32(0), u32(0), u32(timescale), u32(duration), u16(0x55c4), u16(0));
  const hdlr = fullBox("hdlr", 0, 0, u32(0), Buffer.from("vide", "latin1"), zeros(12), Buffer.from("VideoHandler\0", "latin1"));
  const avcC = box("avcC", u8(1), u8(0x42), u8(0), u8(0x1e), u8(0xff), u8(0xe0), u8(0));
  const avc1 = box(
    "avc1",
    zeros(6), u16(1), u16(0), u16(0), zeros(12),
    u16(o.width), u16(o.height), u32(0x00480000), u32(0x00480000), u32(0), u16(1),
    zeros(32), u16(0x0018), u16(0xffff),
    avcC,
  );
  const stbl = box(
    "stbl",
    fullBox("stsd", 0, 0, u32(1), avc1),
    fullBox("stts", 0, 0, u32(0)),
    fullBox("stsc", 0, 0, u32(0)),
    fullBox("stsz", 0, 0, u32(0), u32(0)),
    fullBox("stco", 0, 0, u32(0)),
  );
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  const minf = box("minf", fullBox("vmhd", 0, 1, u16(0), zeros(6)), dinf, stbl);
  const moov = box("moov", mvhd, box("trak", tkhd, box("mdia", mdhd, hdlr, minf)));
  const mdat = box("mdat", zeros(o.mdatBytes ?? 0));
  return Buffer.concat(o.moovLast ? [ftyp, mdat, moov] : [ftyp, moov, mdat]);
}
