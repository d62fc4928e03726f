import { MP4BoxBuffer, createFile, type Movie, type Track } from "mp4box";

/** What a PLAIN_VIDEO (or audio) payload needs from an ISO BMFF file (mp4, mov, m4a, 3gp). */
export interface Mp4Info {
  durationMs: number;
  /** Display size of the first video track; absent for audio-only files. */
  width?: number;
  height?: number;
}

/** Reads `length` bytes at `position`; returns fewer at the end of the input. */
export type ByteReader = (position: number, length: number) => Promise<Uint8Array>;

const CHUNK = 1024 * 1024;

/**
 * Parses just enough of the file to reach `moov`. mp4box tells us after each chunk which offset it
 * wants next, so a `moov` stored after a large `mdat` costs a seek, not a read of the whole media.
 * Returns undefined for anything mp4box can't make sense of: callers then send the file as data.
 */
export async function readMp4Info(read: ByteReader, size: number): Promise<Mp4Info | undefined> {
  const file = createFile();
  let movie: Movie | undefined;
  let failed = false;
  file.onReady = (info) => (movie = info);
  file.onError = () => (failed = true);
  try {
    let position = 0;
    while (!movie && !failed && position < size) {
      const chunk = await read(position, Math.min(CHUNK, size - position));
      if (chunk.length === 0) break;
      // mp4box wants an ArrayBuffer of its own tagged with its offset in the file.
      const copy = new Uint8Array(chunk.length);
      copy.set(chunk);
      const next = file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy.buffer, position));
      position = next > position ? next : position + chunk.length;
    }
    if (!movie && !failed) file.flush();
  } catch {
    return undefined;
  }
  return movie?.hasMoov ? describe(movie) : undefined;
}

function describe(movie: Movie): Mp4Info | undefined {
  const durationMs = movieDurationMs(movie);
  if (durationMs === undefined) return undefined;
  const video = movie.videoTracks?.[0];
  return video ? { durationMs, ...displaySize(video) } : { durationMs };
}

function movieDurationMs(movie: Movie): number | undefined {
  if (movie.timescale > 0 && movie.duration > 0) return Math.round((movie.duration / movie.timescale) * 1000);
  // Fragmented files may leave mvhd's duration at 0 and put the total in mehd.
  const f = movie.fragment_duration;
  if (f && f.den > 0 && f.num > 0) return Math.round((f.num / f.den) * 1000);
  const tracks = (movie.tracks ?? []).filter((t) => t.timescale > 0 && t.duration > 0);
  if (tracks.length === 0) return movie.timescale > 0 ? 0 : undefined;
  return Math.round(Math.max(...tracks.map((t) => t.duration / t.timescale)) * 1000);
}

/**
 * tkhd's size is the presentation size (pixel aspect applied), so it wins over the coded size of
 * the sample entry. Phones record portrait video as landscape plus a 90° matrix: swap for those,
 * or every portrait clip would be shown sideways-sized.
 */
function displaySize(track: Track): { width?: number; height?: number } {
  let width = Math.round(track.track_width) || track.video?.width || 0;
  let height = Math.round(track.track_height) || track.video?.height || 0;
  const m = track.matrix;
  if (m && m[0] === 0 && m[4] === 0 && m[1] !== 0) [width, height] = [height, width];
  return width > 0 && height > 0 ? { width, height } : {};
}
