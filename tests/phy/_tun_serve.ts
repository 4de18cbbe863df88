/**
 * What the TUN/TAP lab children (`_tun_tap_child.ts`, `_tun6_child.ts`) share: the two TCP
 * ports the test's socat talks to — 5001 reads everything and prints `rx <sha256> <bytes>`;
 * 5002 writes `sendBytes` of `bytesOf(n, 2)` and closes, then prints `sent` — the
 * line protocol on stdout, and a watchdog that prints `timeout` and exits with 3.
 */
import type { Stack } from "../../src/stack.ts";
import type { TcpListener } from "../../src/socket/tcp_listener.ts";
import { bytesOf } from "../seeded_random.ts";

const encoder = new TextEncoder();

/** Prints one line on stdout for the test to read. */
export function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** The two ports of a child, listening from construction (prints `ready`). */
export class BulkPorts {
  readonly #sink: TcpListener;
  readonly #source: TcpListener;
  readonly #sendBytes: number;
  readonly #timer: ReturnType<typeof setTimeout>;

  /**
   * @param stack the child's started stack
   * @param sendBytes bytes port 5002 writes
   * @param timeoutMs the watchdog
   */
  constructor(stack: Stack, sendBytes: number, timeoutMs: number) {
    this.#sendBytes = sendBytes;
    this.#sink = stack.listen({ port: 5001 });
    this.#source = stack.listen({ port: 5002 });
    say("ready");
    this.#timer = setTimeout(() => {
      say("timeout");
      Deno.exit(3);
    }, timeoutMs);
  }

  /** Serves one connection on each port, both at once. */
  async serve(): Promise<void> {
    await Promise.all([this.#receiveAll(), this.#sendAll()]);
  }

  /** Stops the watchdog and closes both listeners. */
  close(): void {
    clearTimeout(this.#timer);
    this.#sink.close();
    this.#source.close();
  }

  async #receiveAll(): Promise<void> {
    const conn = await this.#sink.accept();
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
    say(`rx ${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")} ${total}`);
    conn.close();
  }

  async #sendAll(): Promise<void> {
    const conn = await this.#source.accept();
    const data = bytesOf(this.#sendBytes, 2);
    for (let off = 0; off < data.length; off += 65536) {
      await conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
    }
    await conn.closeWrite();
    await conn.read(new Uint8Array(16)); // the peer's FIN
    conn.close();
    say("sent");
  }
}
