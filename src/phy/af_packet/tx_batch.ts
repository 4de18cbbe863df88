/**
 * The AF_PACKET driver's transmit batching and its hand-over to a transmit
 * thread: frames are copied into staging slots in the packet arena (after
 * their virtio_net_hdr with `vnetHeader`), one `mmsghdr` + `iovec` per slot
 * written once, and a run of staged frames leaves in one `sendmmsg()` — from
 * this thread, or, with a {@link TxThread}, from a Worker while this thread
 * stages the next batch. Owns the staging ring's cursors (head, run start,
 * tail), which slots the thread may still read, waiting for it when all are
 * in flight, and giving up on it when it stalls.
 *
 * A full queue is not a loss: when the kernel refuses a run with EAGAIN (the
 * socket's send buffer is full) or ENOBUFS (a qdisc, or a veth peer's
 * backlog, dropped it: NET_XMIT_DROP), the frames it did not take stay
 * staged, in order, and leave first at the next flush (`txDeferred`); the
 * device meanwhile asks its loop to come back within {@link TX_RETRY_MS}
 * (`AfPacketDevice.txRetryDelayMs`). The staging area is the bound: when
 * refused frames fill it, a new frame is dropped (`txQueueFullDrops`, in
 * `txDropped` too) — that is where back-pressure turns into loss, as a full
 * qdisc does in the kernel. So is a frame that cannot be staged (outside the
 * packet arena, a GSO super-frame) while refused frames wait: sent at once it
 * would overtake them. Other errors (ENETDOWN, EMSGSIZE…) drop the run and
 * count it (`txErrors`, `txDropped`).
 *
 * With a transmit thread it carries everything staged, in one order: full
 * batches, a partial batch flushed while it still holds earlier frames, and
 * GSO super-frames, which are copied (with their `virtio_net_hdr`) into
 * {@link TX_THREAD_SUPER_SLOTS} super-frame slots of their own, each with its
 * own `mmsghdr` after the staging slots' ones, and handed over one by one
 * after whatever was staged before them — so the kernel's work in sending
 * them (on veth: the segmentation, the peer's receive path, a router's
 * forwarding) runs on the worker's core. A partial batch flushed while the
 * thread holds nothing still leaves from here (no hand-off latency for
 * request/response); what the kernel refuses of it goes to the thread. The
 * thread retries refused runs itself, in order (tx_thread.ts), so frames are
 * held back, not lost; while it holds a refused run and every slot (of the
 * kind a frame needs) is in its hands, a new frame is dropped and counted
 * (`txQueueFullDrops`), as without a thread when refused frames fill the
 * staging area. While it is merely busy this thread waits for a slot
 * (`txThreadWaits`).
 *
 * @module
 */

import type { AfPacketStats } from "../af_packet.ts";
import { arenaCopy, packetArena } from "../../buffer/arena.ts";
import { EAGAIN, ENOBUFS, errno, libc, MSG_DONTWAIT } from "../libc.ts";
import {
  TX_RETRY_MS,
  TxThread,
  WAIT_REFUSED,
  WAIT_ROOM,
  WAIT_STALLED,
  type WaitResult,
} from "../tx_thread.ts";
import {
  align,
  IOV_LEN_OFFSET,
  IOVEC_BYTES,
  MMSG_HDR_BYTES,
  MSG_HDR_BYTES,
  MSG_IOV,
  MSG_IOVLEN,
  VNET_HDR_BYTES,
  writeU64,
  writeVnetHeader,
} from "./layout.ts";
import { countSendError, writeOffloadHeader } from "./transmit.ts";
import { MAX_GSO_FRAME_BYTES } from "./socket.ts";

export { TX_RETRY_MS };

/** Staging slot stride: frames are at most MTU + 14 bytes; slots start on cache lines. */
const TX_STAGE_ALIGN = 64;
/** `iov_len` (low word) of an iovec, as a 32-bit word index from the iovec's start. */
const IOV_LEN_WORD = IOV_LEN_OFFSET >>> 2;
/** An iovec's size in 32-bit words. */
const IOVEC_WORDS = IOVEC_BYTES >>> 2;

/**
 * GSO super-frame slots of a transmit thread (each 14 + 65535 bytes after its
 * `virtio_net_hdr`: ≈1 MiB of the packet arena): how many super-frames this
 * thread may hand over before it waits for the worker. A TCP sender's flight
 * leaves in a few super-frames per event-loop turn, so this thread runs that
 * far ahead of the kernel's work at most.
 */
export const TX_THREAD_SUPER_SLOTS = 16;

/** {@link TxBatch.stage}: the frame is staged. */
export const STAGED = 1;
/** {@link TxBatch.stage}: the frame is not in the packet arena and nothing waits: send it at once. */
export const SEND_AT_ONCE = 0;
/** {@link TxBatch.stage}: dropped and counted (refused frames fill the staging area or wait ahead). */
export const STAGE_DROPPED = -1;
/** What {@link TxBatch.stage} did with a frame. */
export type StageResult = typeof STAGED | typeof SEND_AT_ONCE | typeof STAGE_DROPPED;

/** Whether a send refused with `err` means "the queue is full for now": keep the frames. */
function queueFull(err: number): boolean {
  return err === EAGAIN || err === ENOBUFS;
}

/** Staged transmit of one device (see the module documentation). */
export class TxBatch {
  /** Why there is no transmit thread although one was asked for (null otherwise). */
  threadFallbackReason: string | null = null;
  readonly #fd: number;
  readonly #stats: AfPacketStats;
  /** Bytes in front of each staged frame: its virtio_net_hdr with `vnetHeader`, else 0. */
  readonly #header: number;
  /** Frames per `sendmmsg()` (option `txBatch`). */
  readonly #batch: number;
  /** Staging slots (txBatch, or TX_THREAD_BATCHES × txBatch with a transmit thread). */
  readonly #slots: number;
  #stage: Uint8Array | null;
  readonly #stride: number;
  /** Each staged frame's length (without its header). */
  readonly #lengths: Int32Array;
  /** mmsghdr array followed by the iovecs, as 32-bit words; its address as a number. */
  readonly #msgs32: Uint32Array<ArrayBufferLike>;
  readonly #msgsAddress: number;
  /** Word index of the first iovec in `#msgs32`. */
  readonly #iovWords: number;
  /**
   * Super-frame slots (messages `#slots`.. of the array), for the transmit
   * thread; 0 (and no area) when super-frames leave from this thread.
   */
  #superSlots: number;
  #superStage: Uint8Array | null;
  readonly #superStride: number;
  /**
   * Frames staged and not yet sent: `#head - #runStart` (after a flush, the
   * frames the kernel refused for now, waiting for a retry).
   */
  #pending = 0;
  /** The run's first frames were refused for now (EAGAIN/ENOBUFS) and wait for a retry. */
  #refused = false;
  /** Frames ever staged (the next frame's slot is `#head % #slots`). */
  #head = 0;
  /** `#head` of the first pending (staged, not yet flushed) frame. */
  #runStart = 0;
  /**
   * The transmit thread, and for each of its submissions the `#head` of its
   * first frame and `#superHead` before it (what it may still read of either area).
   */
  #thread: TxThread | null = null;
  #submitStart = new Float64Array(0);
  #submitSuperStart = new Float64Array(0);
  /** Submission queue entries: one per slot of either area (each submission holds one). */
  #depth = 0;
  /** The oldest `#head` whose slot may still be read by the transmit thread. */
  #tail = 0;
  /** Super-frames ever handed to the thread, and the oldest whose slot it may still read. */
  #superHead = 0;
  #superTail = 0;

  private constructor(
    fd: number,
    stats: AfPacketStats,
    header: number,
    batch: number,
    slots: number,
    stage: Uint8Array,
    stride: number,
    msgs32: Uint32Array<ArrayBufferLike>,
    msgsAddress: number,
    iovWords: number,
    superSlots: number,
    superStage: Uint8Array | null,
    superStride: number,
  ) {
    this.#fd = fd;
    this.#stats = stats;
    this.#header = header;
    this.#batch = batch;
    this.#slots = slots;
    this.#stage = stage;
    this.#stride = stride;
    this.#lengths = new Int32Array(slots);
    this.#msgs32 = msgs32;
    this.#msgsAddress = msgsAddress;
    this.#iovWords = iovWords;
    this.#superSlots = superSlots;
    this.#superStage = superStage;
    this.#superStride = superStride;
  }

  /**
   * Stages up to `batch` frames in the packet arena for one `sendmmsg()`:
   * an mmsghdr and an iovec per staging slot, written once; per frame only
   * the iovec length changes. `batches` > 1 (transmit thread) makes room for
   * that many batches in flight.
   *
   * @param fd the packet socket
   * @param batch frames per `sendmmsg()` (> 1)
   * @param batches batches that may be in flight at once
   * @param vnetHeader each frame is staged after its virtio_net_hdr
   * @param maxFrame largest frame, bytes
   * @param stats the device's counters
   * @param superSlots GSO super-frame slots for a transmit thread (with
   *   `vnetHeader` and `batches` > 1; 0: none, or when the arena has no room for them)
   * @returns the batch, or null when the arena has no address (no WebAssembly memory) or no room
   */
  static create(
    fd: number,
    batch: number,
    batches: number,
    vnetHeader: boolean,
    maxFrame: number,
    stats: AfPacketStats,
    superSlots = 0,
  ): TxBatch | null {
    const arena = packetArena();
    const base = arena.baseAddress;
    if (base === null) return null;
    const slots = batch * batches;
    // With vnetHeader each slot starts with the frame's virtio_net_hdr, sent in the same iovec.
    const header = vnetHeader ? VNET_HDR_BYTES : 0;
    const stride = align(header + maxFrame, TX_STAGE_ALIGN);
    const stage = arena.allocView(slots * stride);
    if (stage === null) return null;
    const superStride = align(header + MAX_GSO_FRAME_BYTES, TX_STAGE_ALIGN);
    const superStage = vnetHeader && batches > 1 && superSlots > 0
      ? arena.allocView(superSlots * superStride)
      : null;
    if (superStage === null) superSlots = 0;
    // Shared with the transmit thread when there is one (the same memory, seen by both).
    const messages = slots + superSlots;
    const msgBytes = messages * (MMSG_HDR_BYTES + IOVEC_BYTES);
    const msgs = new Uint8Array(
      batches > 1 ? new SharedArrayBuffer(msgBytes) : new ArrayBuffer(msgBytes),
    );
    const words = new Uint32Array(msgs.buffer);
    const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(msgs)));
    const iovStart = messages * MMSG_HDR_BYTES;
    const stageAddress = Number(base) + stage.byteOffset;
    const superAddress = superStage === null ? 0 : Number(base) + superStage.byteOffset;
    for (let i = 0; i < messages; i++) {
      const msg = i * MMSG_HDR_BYTES;
      const iov = iovStart + i * IOVEC_BYTES;
      writeU64(words, msg + MSG_IOV, address + iov);
      writeU64(words, msg + MSG_IOVLEN, 1);
      writeU64(
        words,
        iov,
        i < slots ? stageAddress + i * stride : superAddress + (i - slots) * superStride,
      );
    }
    return new TxBatch(
      fd,
      stats,
      header,
      batch,
      slots,
      stage,
      stride,
      words,
      address,
      iovStart >>> 2,
      superSlots,
      superStage,
      superStride,
    );
  }

  /** Frames staged for the next `sendmmsg()` (after {@link flush}: refused frames that wait). */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Whether frames the kernel refused because a queue was full wait on this
   * thread to be retried (at the next flush; the device asks to be flushed
   * within {@link TX_RETRY_MS}). A transmit thread retries its own.
   */
  get refused(): boolean {
    return this.#refused;
  }

  /** Whether a transmit thread sends the full batches. */
  get threaded(): boolean {
    return this.#thread !== null;
  }

  /** Whether GSO super-frames go through the transmit thread ({@link stageSuper}). */
  get threadedSuperFrames(): boolean {
    return this.#thread !== null && this.#superSlots > 0;
  }

  /** Starts the transmit thread over the staging area; on failure says why in {@link threadFallbackReason}. */
  async startThread(): Promise<void> {
    const depth = this.#slots + this.#superSlots;
    try {
      const msgs = this.#msgs32.buffer;
      if (!(msgs instanceof SharedArrayBuffer)) throw new Error("staging messages are not shared");
      this.#thread = await TxThread.start({
        fd: this.#fd,
        msgs,
        mmsgHdrBytes: MMSG_HDR_BYTES,
        msgLenOffset: MSG_HDR_BYTES,
        flags: MSG_DONTWAIT,
        depth,
      });
      this.#depth = depth;
      this.#submitStart = new Float64Array(depth);
      this.#submitSuperStart = new Float64Array(depth);
    } catch (e) {
      this.threadFallbackReason = e instanceof Error ? e.message : String(e);
      this.#releaseSuperStage();
    }
  }

  /** Adds what the transmit thread sent, deferred or dropped since the last call to the counters. */
  collectThread(): void {
    if (this.#thread === null) return;
    const r = this.#thread.takeResults();
    const stats = this.#stats;
    stats.txFrames += r.frames;
    // The thread counts what sendmmsg() took, virtio_net_hdr included; txBytes counts frames.
    stats.txBytes += r.bytes - this.#header * r.frames;
    stats.txErrors += r.errors;
    stats.txDeferred += r.deferred;
    if (r.errors > 0 || r.deferred > 0) stats.txLastErrno = r.lastErrno;
    stats.txDropped += r.dropped;
  }

  /**
   * Copies a frame into the next staging slot (after its `virtio_net_hdr`
   * with `vnetHeader`, asking for `csumStart`/`csumOffset` completion) and
   * sends the batch when it is full. A frame outside the packet arena is not
   * staged: every frame staged before it is sent first, and
   * {@link SEND_AT_ONCE} tells the caller to send it at once. When frames the
   * kernel refused fill the staging area (or wait ahead of a frame that
   * cannot be staged) the frame is dropped and counted: {@link STAGE_DROPPED}.
   */
  stage(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
  ): StageResult {
    if (this.#head - this.#tail >= this.#slots) {
      // With a transmit thread the slot may still be in its hands: wait for it (unless it holds
      // refused frames). Without one, refused frames fill every slot: retry them, and drop this
      // frame if they still wait.
      if (this.#thread !== null) {
        if (this.#makeRoom(false) === WAIT_REFUSED) return this.#queueFullDrop();
      } else {
        this.#flushRun();
        if (this.#head - this.#tail >= this.#slots) return this.#queueFullDrop();
      }
    }
    const head = this.#head;
    const i = head % this.#slots;
    const slot = i * this.#stride;
    const header = this.#header;
    if (!arenaCopy(bytes, offset, this.#stage!, slot + header, length)) {
      return this.makeWay() ? SEND_AT_ONCE : STAGE_DROPPED;
    }
    if (header > 0) writeVnetHeader(this.#stage!, slot, csumStart, csumOffset, 0, 0, 0);
    this.#lengths[i] = length;
    // The iovec's length (its high word stays 0: frames are far below 4 GiB).
    this.#msgs32[this.#iovWords + i * IOVEC_WORDS + IOV_LEN_WORD] = header + length;
    this.#head = head + 1;
    // A run sent in one call is contiguous: it also ends at the last slot.
    if (++this.#pending >= this.#batch || i === this.#slots - 1) this.#flushRun();
    return STAGED;
  }

  /**
   * A GSO super-frame (checked by the caller; `gsoSize` > 0): with a
   * transmit thread, copied with its `virtio_net_hdr` (GSO TCPv4/TCPv6,
   * `hdr_len`, the checksum request) into the next super-frame slot and
   * handed to the thread after everything staged before it ({@link STAGED}).
   * Without one, or when it is outside the packet arena, everything staged
   * leaves first and {@link SEND_AT_ONCE} tells the caller to send it at once.
   * Dropped and counted ({@link STAGE_DROPPED}) when refused frames hold the
   * slots it needs, as {@link stage}.
   */
  stageSuper(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): StageResult {
    if (this.#thread === null || this.#superSlots === 0) {
      return this.makeWay() ? SEND_AT_ONCE : STAGE_DROPPED;
    }
    if (this.#superHead - this.#superTail >= this.#superSlots) {
      const room = this.#makeRoom(true);
      if (room === WAIT_REFUSED) return this.#queueFullDrop();
      // The thread stalled and was given up: the frame leaves from here.
      if (room === WAIT_STALLED) return this.makeWay() ? SEND_AT_ONCE : STAGE_DROPPED;
    }
    const j = this.#superHead % this.#superSlots;
    const slot = j * this.#superStride;
    const header = this.#header;
    if (!arenaCopy(bytes, offset, this.#superStage!, slot + header, length)) {
      return this.makeWay() ? SEND_AT_ONCE : STAGE_DROPPED;
    }
    writeOffloadHeader(
      this.#superStage!,
      slot,
      bytes,
      offset,
      csumStart,
      csumOffset,
      gsoSize,
      this.#stats,
    );
    const message = this.#slots + j;
    this.#msgs32[this.#iovWords + message * IOVEC_WORDS + IOV_LEN_WORD] = header + length;
    // Order: what was staged before it goes first (a partial run too: it never spans the end).
    if (this.#pending > 0) this.#submitRun();
    this.#submit(message, 1);
    this.#superHead++;
    return STAGED;
  }

  /**
   * Before a frame that is sent at once (not staged): sends everything
   * staged, and with a transmit thread waits until it has sent all it holds.
   * When refused frames still wait (here, or in the thread's hands) the frame
   * would overtake them: it is counted as dropped and false returned.
   */
  makeWay(): boolean {
    this.flush();
    const thread = this.#thread;
    if (thread !== null) {
      const r = thread.waitForRoom(1);
      if (r === WAIT_REFUSED) {
        this.#queueFullDrop();
        return false;
      }
      if (r === WAIT_STALLED) this.#threadStalled();
      else this.#releaseAll();
    }
    if (this.#pending === 0) return true;
    this.#queueFullDrop();
    return false;
  }

  /** Counts a frame dropped because refused frames hold the staging area. */
  #queueFullDrop(): typeof STAGE_DROPPED {
    this.#stats.txQueueFullDrops++;
    this.#stats.txDropped++;
    return STAGE_DROPPED;
  }

  /** Ends a transmit batch: the staged frames go to the kernel (or to the transmit thread). */
  flush(): void {
    if (this.#pending > 0) this.#flushRun();
  }

  /**
   * Sends the pending run: to the transmit thread when it is a full batch or
   * the thread still holds earlier frames (order), else with `sendmmsg()`
   * here (a partial batch with nothing in flight leaves without a hand-off;
   * what the kernel refuses of it goes to the thread, which retries it).
   */
  #flushRun(): void {
    const thread = this.#thread;
    if (thread !== null && (this.#pending === this.#batch || !thread.idle)) {
      this.#submitRun();
      return;
    }
    this.#sendRun();
  }

  /** Hands the pending run (contiguous in the slots) to the transmit thread. */
  #submitRun(): void {
    this.#submit(this.#runStart % this.#slots, this.#pending);
    this.#pending = 0;
    this.#runStart = this.#head;
  }

  /**
   * Hands messages `first`..`first + count - 1` to the transmit thread,
   * remembering what of either area it may read until it has sent them.
   */
  #submit(first: number, count: number): void {
    const thread = this.#thread!;
    const k = thread.submitted % this.#depth;
    this.#submitStart[k] = this.#runStart;
    this.#submitSuperStart[k] = this.#superHead;
    thread.submit(first, count);
    this.#stats.txThreadSubmissions++;
  }

  /**
   * Sends the run `#runStart`..`#head` from this thread with `sendmmsg()`, in
   * up to two contiguous pieces (refused frames kept at the end of the slots
   * and new ones staged after them wrap around). A partial send took a
   * prefix: the rest goes again. Refused with EAGAIN/ENOBUFS, the unsent
   * frames stay staged for a retry (with a transmit thread: handed to it,
   * which retries them); other errors drop them.
   */
  #sendRun(): void {
    const stats = this.#stats;
    const lengths = this.#lengths;
    const slots = this.#slots;
    const end = this.#head;
    let next = this.#runStart;
    while (next < end) {
      const first = next % slots;
      const count = Math.min(end - next, slots - first);
      const n = libc().sendmmsg(
        this.#fd,
        BigInt(this.#msgsAddress + first * MMSG_HDR_BYTES),
        count,
        MSG_DONTWAIT,
      );
      if (n <= 0) {
        const err = n < 0 ? errno() : 0;
        if (queueFull(err)) {
          // Kept in order; the next flush (or the thread) starts with them.
          stats.txDeferred += end - next;
          stats.txLastErrno = err;
          this.#runStart = next;
          this.#pending = end - next;
          if (this.#thread !== null) {
            // Sent from here only while the thread held nothing: the run is contiguous.
            this.#submitRun();
            return;
          }
          this.#tail = next;
          this.#refused = true;
          return;
        }
        countSendError(stats, n);
        stats.txDropped += end - next;
        break;
      }
      for (let k = first; k < first + n; k++) stats.txBytes += lengths[k];
      stats.txFrames += n;
      next += n;
    }
    // Nothing waits: the next run starts again at slot 0, so a partial batch does not shorten
    // the next full one at the end of the slots.
    this.#head = 0;
    this.#runStart = 0;
    this.#tail = 0;
    this.#pending = 0;
    this.#refused = false;
  }

  /**
   * Moves the tails past the slots the transmit thread has finished with,
   * waiting for it while every slot of the area a frame needs (`superFrame`:
   * the super-frame slots) is in its hands. {@link WAIT_REFUSED}: it holds a
   * refused run, so no room comes soon; {@link WAIT_STALLED}: it was given up.
   */
  #makeRoom(superFrame: boolean): WaitResult {
    // Only a transmit thread holds slots past a flush: without one every flush sends at once
    // and the next run starts at slot 0, so a run never spans all the slots.
    const thread = this.#thread!;
    for (;;) {
      const done = this.#refreshTail(thread);
      const full = superFrame
        ? this.#superHead - this.#superTail >= this.#superSlots
        : this.#head - this.#tail >= this.#slots;
      if (!full) return WAIT_ROOM;
      this.#stats.txThreadWaits++;
      const r = thread.waitForRoom(thread.submitted - done);
      if (r === WAIT_REFUSED) return r;
      if (r === WAIT_STALLED) {
        this.#threadStalled();
        return r;
      }
    }
  }

  /**
   * Sets the tails to the first frame (of either area) of the oldest
   * submission the thread has not finished (or past every submission);
   * returns the submissions done.
   */
  #refreshTail(thread: TxThread): number {
    const done = thread.done;
    if (done === thread.submitted) {
      this.#releaseAll();
    } else {
      const k = done % this.#depth;
      this.#tail = this.#submitStart[k];
      this.#superTail = this.#submitSuperStart[k];
    }
    return done;
  }

  /** The thread holds nothing: every slot not pending here is free. */
  #releaseAll(): void {
    this.#tail = this.#runStart;
    this.#superTail = this.#superHead;
  }

  /**
   * The thread made no progress for TX_THREAD_STALL_MS: the frames of the
   * submissions it has not finished count as dropped; send from here.
   */
  #threadStalled(): void {
    const thread = this.#thread!;
    this.collectThread();
    this.#refreshTail(thread);
    this.#thread = null;
    this.#stats.txDropped += this.#runStart - this.#tail + this.#superHead - this.#superTail;
    this.#stats.txErrors++;
    this.threadFallbackReason = "the transmit thread stopped making progress";
    thread.stop(false);
    this.#tail = this.#runStart;
    this.#superTail = this.#superHead;
  }

  /**
   * Sends everything staged, then stops the transmit thread and collects its
   * last counts. Refused frames still waiting are tried once more, then
   * dropped (counted); the thread retries its refused runs for
   * `TX_THREAD_CLOSE_GRACE_MS` at most, then gives them up the same way.
   */
  close(): void {
    this.flush();
    const thread = this.#thread;
    if (thread !== null) {
      // From now on it drops a refused run instead of retrying it: waiting ends soon.
      thread.close();
      if (!thread.waitBelow(1)) {
        this.#threadStalled();
      } else {
        thread.stop(false);
        this.collectThread();
        this.#thread = null;
        this.#releaseAll();
      }
    }
    if (this.#pending > 0) {
      this.#stats.txDropped += this.#pending;
      this.#head = 0;
      this.#runStart = 0;
      this.#tail = 0;
      this.#pending = 0;
      this.#refused = false;
    }
  }

  /** Gives the staging areas back to the arena (after {@link close}). */
  release(): void {
    if (this.#stage !== null) {
      packetArena().freeView(this.#stage);
      this.#stage = null;
    }
    this.#releaseSuperStage();
  }

  #releaseSuperStage(): void {
    if (this.#superStage !== null) {
      packetArena().freeView(this.#superStage);
      this.#superStage = null;
      this.#superSlots = 0;
    }
  }
}
