/**
 * The classic libpcap file format: a {@link PcapWriter} that records frames
 * into memory and/or streams them to a file (`Deno.FsFile`), and a
 * {@link PcapReader} for files in either byte order with microsecond or
 * nanosecond timestamps.
 *
 * Format (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
 * draft-ietf-opsawg-pcap §4–5): a 24-byte global header (magic, version 2.4,
 * reserved zeros, snaplen, link type) followed by records, each a 16-byte
 * header (seconds, microseconds or nanoseconds, captured length, original
 * length) and the captured bytes.
 *
 * This is an API boundary (tests, captures, tools), not the packet hot path:
 * malformed files raise a {@link PcapError}. Records are staged into one
 * reused buffer and written in batches, so streaming costs one `writeSync`
 * per ~64 KiB rather than one per frame.
 *
 * @module
 */

/** Magic number of a microsecond-resolution pcap file. */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
/** Magic number of a nanosecond-resolution pcap file. */
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
/** LINKTYPE_ETHERNET: IEEE 802.3 / Ethernet II frames without preamble or FCS. */
export const LINKTYPE_ETHERNET = 1;
/** Size of the file's global header in bytes. */
export const PCAP_GLOBAL_HEADER_LEN = 24;
/** Size of each record header in bytes. */
export const PCAP_RECORD_HEADER_LEN = 16;
/** The snapshot length tcpdump uses by default (bytes kept per frame). */
export const PCAP_DEFAULT_SNAPLEN = 262144;
/** pcap format version written and accepted (major). */
export const PCAP_VERSION_MAJOR = 2;
/** pcap format version written (minor). */
export const PCAP_VERSION_MINOR = 4;

const MICROS_PER_SECOND = 1_000_000;
const NANOS_PER_SECOND = 1_000_000_000;
const MS_PER_SECOND = 1000;
const INITIAL_MEMORY_BYTES = 64 * 1024;
const STAGING_BYTES = 64 * 1024;
const UINT32_MAX = 0xffffffff;

/**
 * A destination a {@link PcapWriter} streams to. `Deno.FsFile` satisfies it.
 */
export interface PcapSink {
  /**
   * Writes some prefix of `p` synchronously.
   *
   * @param p the bytes to write
   * @returns how many bytes were written
   */
  writeSync(p: Uint8Array): number;
}

/** Options of a {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. Default false. */
  nanoseconds?: boolean;
  /** Bytes kept per frame; longer frames are cut (original length recorded). Default 262144. */
  snaplen?: number;
  /** Link-layer header type written in the global header. Default {@link LINKTYPE_ETHERNET}. */
  linkType?: number;
  /** Stream records here (e.g. a `Deno.FsFile`). */
  sink?: PcapSink;
  /** Also keep the whole file in memory for {@link PcapWriter.toBytes}. Default: true without a sink. */
  keepInMemory?: boolean;
}

/** Why a pcap file was rejected. */
export type PcapErrorKind = "bad-magic" | "truncated" | "bad-version" | "bad-record";

/**
 * A malformed or truncated pcap file.
 *
 * @example
 * ```ts
 * import { PcapError, PcapReader } from "./pcap.ts";
 * try {
 *   new PcapReader(new Uint8Array(10));
 *   console.assert(false);
 * } catch (e) {
 *   console.assert(e instanceof PcapError && e.kind === "truncated");
 * }
 * ```
 */
export class PcapError extends Error {
  /** The defect. */
  readonly kind: PcapErrorKind;

  /**
   * Creates the error; the message is prefixed with `pcap: <kind>: `.
   *
   * @param kind the defect
   * @param message details, including the byte offset concerned
   */
  constructor(kind: PcapErrorKind, message: string) {
    super(`pcap: ${kind}: ${message}`);
    this.name = "PcapError";
    this.kind = kind;
  }
}

/**
 * Writes Ethernet frames in the classic pcap format, into a growable memory
 * buffer and/or streamed synchronously to a {@link PcapSink}.
 *
 * @example
 * ```ts
 * import { PcapReader, PcapWriter } from "./pcap.ts";
 * const w = new PcapWriter({ nanoseconds: true });
 * w.writeFrame(new Uint8Array(60), 0, 60, 1500.000001); // 1 s + 500,000,001 ns
 * w.writeFrameAt(new Uint8Array(60), 0, 60, 1_700_000_000, 123_456_789); // exact
 * const r = new PcapReader(w.toBytes());
 * const rec = r.next()!;
 * console.assert(r.nanoseconds && rec.originalLength === 60);
 * console.assert(rec.seconds === 1 && rec.fraction === 500_000_001);
 * console.assert(r.next()!.fraction === 123_456_789);
 * ```
 */
export class PcapWriter {
  /** True when timestamps are written in nanoseconds. */
  readonly nanoseconds: boolean;
  /** Bytes kept per frame. */
  readonly snaplen: number;
  /** Link-layer header type. */
  readonly linkType: number;
  #sink: PcapSink | null;
  #file: Deno.FsFile | null = null;
  #memory: Uint8Array | null;
  #memoryLength = 0;
  #staging: Uint8Array;
  #stagingView: DataView;
  #stagingLength = 0;
  #frames = 0;
  #closed = false;

  /**
   * Creates a writer and stages the global header.
   *
   * @param opts resolution, snaplen, link type, sink; see {@link PcapWriterOptions}
   * @throws {RangeError} when snaplen is not a positive 32-bit integer
   */
  constructor(opts: PcapWriterOptions = {}) {
    const snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen <= 0 || snaplen > UINT32_MAX) {
      throw new RangeError(`pcap snaplen must be a positive 32-bit integer, got ${snaplen}`);
    }
    this.nanoseconds = opts.nanoseconds ?? false;
    this.snaplen = snaplen;
    this.linkType = opts.linkType ?? LINKTYPE_ETHERNET;
    this.#sink = opts.sink ?? null;
    const keep = opts.keepInMemory ?? this.#sink === null;
    this.#memory = keep ? new Uint8Array(INITIAL_MEMORY_BYTES) : null;
    this.#staging = new Uint8Array(Math.max(STAGING_BYTES, PCAP_RECORD_HEADER_LEN + snaplen));
    this.#stagingView = new DataView(this.#staging.buffer);
    // Global header, little-endian (the reader accepts both orders).
    const v = this.#stagingView;
    v.setUint32(0, this.nanoseconds ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, true);
    v.setUint16(4, PCAP_VERSION_MAJOR, true);
    v.setUint16(6, PCAP_VERSION_MINOR, true);
    v.setInt32(8, 0, true); // thiszone (reserved, 0)
    v.setUint32(12, 0, true); // sigfigs (reserved, 0)
    v.setUint32(16, snaplen, true);
    v.setUint32(20, this.linkType, true);
    this.#stagingLength = PCAP_GLOBAL_HEADER_LEN;
  }

  /**
   * Creates (truncates) a file and returns a writer streaming to it.
   * Permissions: `--allow-write` for `path`.
   *
   * @param path the file to write
   * @param opts writer options (the sink is the file)
   * @returns the writer; call {@link PcapWriter.close} when done
   *
   * @example
   * ```ts ignore
   * import { PcapWriter } from "./pcap.ts";
   * const w = await PcapWriter.create("/tmp/out.pcap");
   * w.writeFrame(new Uint8Array(60), 0, 60, Date.now());
   * w.close();
   * ```
   */
  static async create(
    path: string | URL,
    opts: Omit<PcapWriterOptions, "sink"> = {},
  ): Promise<PcapWriter> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = new PcapWriter({ ...opts, sink: file });
    writer.#file = file;
    return writer;
  }

  /** Number of frames written so far. */
  get frameCount(): number {
    return this.#frames;
  }

  /**
   * Appends one frame.
   *
   * @param bytes buffer holding the frame
   * @param offset where the frame starts
   * @param length frame length in bytes (recorded as the original length)
   * @param timestampMs capture time in milliseconds since the Unix epoch (fractions kept;
   *   a double holds present-day epoch milliseconds to about 0.25 µs, so use
   *   {@link PcapWriter.writeFrameAt} when exact nanoseconds matter)
   * @param originalLength length of the frame on the wire when `length` is already cut
   * @throws {Error} when the writer is closed or the sink fails
   */
  writeFrame(
    bytes: Uint8Array,
    offset: number,
    length: number,
    timestampMs: number,
    originalLength: number = length,
  ): void {
    let seconds = Math.floor(timestampMs / MS_PER_SECOND);
    const perSecond = this.nanoseconds ? NANOS_PER_SECOND : MICROS_PER_SECOND;
    let fraction = Math.round(
      (timestampMs - seconds * MS_PER_SECOND) * (perSecond / MS_PER_SECOND),
    );
    if (fraction >= perSecond) {
      seconds += 1;
      fraction -= perSecond;
    }
    this.writeFrameAt(bytes, offset, length, seconds, fraction, originalLength);
  }

  /**
   * Appends one frame with an exact raw timestamp.
   *
   * @param bytes buffer holding the frame
   * @param offset where the frame starts
   * @param length frame length in bytes
   * @param seconds seconds since the Unix epoch (unsigned 32-bit)
   * @param fraction microseconds or nanoseconds within the second, per the resolution
   * @param originalLength length of the frame on the wire
   * @throws {Error} when the writer is closed or the sink fails
   */
  writeFrameAt(
    bytes: Uint8Array,
    offset: number,
    length: number,
    seconds: number,
    fraction: number,
    originalLength: number = length,
  ): void {
    if (this.#closed) throw new Error("pcap: writer is closed");
    const captured = Math.min(length, this.snaplen);
    const recordLength = PCAP_RECORD_HEADER_LEN + captured;
    if (this.#stagingLength + recordLength > this.#staging.length) this.flush();
    const at = this.#stagingLength;
    const v = this.#stagingView;
    v.setUint32(at, seconds >>> 0, true);
    v.setUint32(at + 4, fraction >>> 0, true);
    v.setUint32(at + 8, captured, true);
    v.setUint32(at + 12, Math.max(originalLength, captured) >>> 0, true);
    this.#staging.set(bytes.subarray(offset, offset + captured), at + PCAP_RECORD_HEADER_LEN);
    this.#stagingLength = at + recordLength;
    this.#frames++;
  }

  /**
   * Moves staged records to memory and the sink. Called automatically when
   * the staging buffer fills and by {@link PcapWriter.toBytes} / {@link PcapWriter.close}.
   *
   * @throws {Error} when the sink's `writeSync` fails or makes no progress
   */
  flush(): void {
    const n = this.#stagingLength;
    if (n === 0) return;
    const staged = this.#staging.subarray(0, n);
    if (this.#memory !== null) {
      if (this.#memoryLength + n > this.#memory.length) {
        let size = this.#memory.length * 2;
        while (size < this.#memoryLength + n) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#memory.subarray(0, this.#memoryLength));
        this.#memory = grown;
      }
      this.#memory.set(staged, this.#memoryLength);
      this.#memoryLength += n;
    }
    if (this.#sink !== null) {
      let done = 0;
      while (done < n) {
        const wrote = this.#sink.writeSync(done === 0 ? staged : staged.subarray(done));
        if (!(wrote > 0)) throw new Error("pcap: sink wrote no bytes");
        done += wrote;
      }
    }
    this.#stagingLength = 0;
  }

  /**
   * The file written so far (global header and all records), as a copy.
   *
   * @returns the pcap file bytes
   * @throws {Error} when the writer was created without memory
   */
  toBytes(): Uint8Array {
    if (!this.#closed) this.flush();
    if (this.#memory === null) {
      throw new Error("pcap: writer does not keep frames in memory (keepInMemory: false)");
    }
    return this.#memory.slice(0, this.#memoryLength);
  }

  /**
   * Flushes and, when the writer opened the file itself ({@link PcapWriter.create}),
   * closes it. Further writes throw. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    if (this.#file !== null) {
      this.#file.close();
      this.#file = null;
    }
  }
}

/** One captured frame of a pcap file. */
export interface PcapRecord {
  /** Capture time in milliseconds since the Unix epoch (may have a fraction). */
  timestampMs: number;
  /** Raw seconds field. */
  seconds: number;
  /** Raw microseconds or nanoseconds field (see {@link PcapReader.nanoseconds}). */
  fraction: number;
  /** Length of the frame on the wire. */
  originalLength: number;
  /** The captured bytes: a zero-copy view into the file's bytes. */
  data: Uint8Array;
}

/**
 * Reads a pcap file held in memory. Accepts both byte orders and both
 * timestamp resolutions; throws {@link PcapError} on a bad magic number or a
 * truncated header or record.
 *
 * @example
 * ```ts
 * import { PcapReader, PcapWriter } from "./pcap.ts";
 * const w = new PcapWriter();
 * w.writeFrame(new Uint8Array([1, 2, 3]), 0, 3, 1500);
 * const reader = new PcapReader(w.toBytes());
 * const frames = [...reader];
 * console.assert(frames.length === 1 && frames[0].data[2] === 3);
 * console.assert(frames[0].seconds === 1 && frames[0].fraction === 500_000);
 * ```
 */
export class PcapReader implements Iterable<PcapRecord> {
  /** True when the file's multi-byte fields are little-endian. */
  readonly littleEndian: boolean;
  /** True for nanosecond timestamps (magic 0xa1b23c4d). */
  readonly nanoseconds: boolean;
  /** Major version (2). */
  readonly versionMajor: number;
  /** Minor version (normally 4). */
  readonly versionMinor: number;
  /** Snapshot length from the global header. */
  readonly snaplen: number;
  /** Link-layer header type ({@link LINKTYPE_ETHERNET} = 1). */
  readonly linkType: number;
  #bytes: Uint8Array;
  #view: DataView;
  #offset = PCAP_GLOBAL_HEADER_LEN;

  /**
   * Validates the global header; records are read lazily by {@link PcapReader.next}.
   *
   * @param bytes the whole file
   * @throws {PcapError} "truncated" when shorter than the global header,
   *   "bad-magic" for an unknown magic number, "bad-version" for a major version other than 2
   */
  constructor(bytes: Uint8Array) {
    if (bytes.length < PCAP_GLOBAL_HEADER_LEN) {
      throw new PcapError(
        "truncated",
        `file is ${bytes.length} bytes, shorter than the ${PCAP_GLOBAL_HEADER_LEN}-byte global header`,
      );
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magicLe = this.#view.getUint32(0, true);
    const magicBe = this.#view.getUint32(0, false);
    if (magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS) {
      this.littleEndian = true;
      this.nanoseconds = magicLe === PCAP_MAGIC_NANOS;
    } else if (magicBe === PCAP_MAGIC_MICROS || magicBe === PCAP_MAGIC_NANOS) {
      this.littleEndian = false;
      this.nanoseconds = magicBe === PCAP_MAGIC_NANOS;
    } else {
      throw new PcapError(
        "bad-magic",
        `magic 0x${magicBe.toString(16).padStart(8, "0")} is neither 0xa1b2c3d4 nor 0xa1b23c4d ` +
          "in either byte order (pcapng is not supported)",
      );
    }
    const le = this.littleEndian;
    this.versionMajor = this.#view.getUint16(4, le);
    this.versionMinor = this.#view.getUint16(6, le);
    if (this.versionMajor !== PCAP_VERSION_MAJOR) {
      throw new PcapError(
        "bad-version",
        `version ${this.versionMajor}.${this.versionMinor}, expected 2.x`,
      );
    }
    this.snaplen = this.#view.getUint32(16, le);
    // The upper bits of the link-type field carry FCS info (pcap-savefile(5)); keep the type.
    this.linkType = this.#view.getUint32(20, le) & 0x0fffffff;
  }

  /**
   * Reads a pcap file from disk. Permissions: `--allow-read` for `path`.
   *
   * @param path the file
   * @returns a reader over its bytes
   * @throws {PcapError} as the constructor does
   *
   * @example
   * ```ts ignore
   * import { PcapReader } from "./pcap.ts";
   * const reader = await PcapReader.open("tests/testdata/kernel_tcp.pcap");
   * for (const rec of reader) console.log(rec.data.length);
   * ```
   */
  static async open(path: string | URL): Promise<PcapReader> {
    return new PcapReader(await Deno.readFile(path));
  }

  /**
   * The next record, or null at the clean end of the file.
   *
   * @returns the record or null
   * @throws {PcapError} "truncated" when a record header or its data runs past
   *   the end of the file, "bad-record" when its captured length exceeds its original length
   */
  next(): PcapRecord | null {
    const at = this.#offset;
    const total = this.#bytes.length;
    if (at === total) return null;
    if (at + PCAP_RECORD_HEADER_LEN > total) {
      throw new PcapError(
        "truncated",
        `record header at byte ${at} needs ${PCAP_RECORD_HEADER_LEN} bytes, ${total - at} left`,
      );
    }
    const le = this.littleEndian;
    const v = this.#view;
    const seconds = v.getUint32(at, le);
    const fraction = v.getUint32(at + 4, le);
    const captured = v.getUint32(at + 8, le);
    const originalLength = v.getUint32(at + 12, le);
    const dataStart = at + PCAP_RECORD_HEADER_LEN;
    if (captured > total - dataStart) {
      throw new PcapError(
        "truncated",
        `record at byte ${at} claims ${captured} captured bytes, ${total - dataStart} left`,
      );
    }
    if (captured > originalLength) {
      throw new PcapError(
        "bad-record",
        `record at byte ${at}: captured length ${captured} > original length ${originalLength}`,
      );
    }
    this.#offset = dataStart + captured;
    const perMs = this.nanoseconds
      ? NANOS_PER_SECOND / MS_PER_SECOND
      : MICROS_PER_SECOND / MS_PER_SECOND;
    return {
      timestampMs: seconds * MS_PER_SECOND + fraction / perMs,
      seconds,
      fraction,
      originalLength,
      data: this.#bytes.subarray(dataStart, dataStart + captured),
    };
  }

  /** Iterates the remaining records. */
  *[Symbol.iterator](): Iterator<PcapRecord> {
    for (let rec = this.next(); rec !== null; rec = this.next()) yield rec;
  }
}

/** A whole pcap file read into memory by {@link readPcap}. */
export interface PcapFile {
  /** True for nanosecond timestamps. */
  nanoseconds: boolean;
  /** True when the file was little-endian. */
  littleEndian: boolean;
  /** Snapshot length. */
  snaplen: number;
  /** Link-layer header type. */
  linkType: number;
  /** Every record, in file order. */
  records: PcapRecord[];
}

/**
 * Reads every record of a pcap file.
 *
 * @param bytes the whole file
 * @returns header fields and records (record data are views into `bytes`)
 * @throws {PcapError} for a bad magic number or a truncated file
 *
 * @example
 * ```ts
 * import { PcapWriter, readPcap } from "./pcap.ts";
 * const w = new PcapWriter();
 * w.writeFrame(new Uint8Array(14), 0, 14, 0);
 * w.writeFrame(new Uint8Array(20), 0, 20, 1);
 * const file = readPcap(w.toBytes());
 * console.assert(file.records.length === 2 && file.linkType === 1);
 * ```
 */
export function readPcap(bytes: Uint8Array): PcapFile {
  const reader = new PcapReader(bytes);
  return {
    nanoseconds: reader.nanoseconds,
    littleEndian: reader.littleEndian,
    snaplen: reader.snaplen,
    linkType: reader.linkType,
    records: [...reader],
  };
}
