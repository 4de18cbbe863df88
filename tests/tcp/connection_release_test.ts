// Ring storage of connections that end with data nobody will read or send any more.
// Found by tests/sim/stack_simulation_test.ts (close order "abort"): a connection closed by
// the application with unread data kept its receive ring's storage after it was released.
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import type { PacketBufferLike } from "../../src/iface/types.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { TimerWheel } from "../../src/time/timer_wheel.ts";
import { type TcpConnection, TcpState } from "../../src/tcp/connection.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";

const A = 0xc0000201 | 0; // 192.0.2.1 (int32)
const B = 0xc0000202 | 0;
const HEADROOM = 34;

/** Two layers on one clock; `deliver()` hands queued segments over until the wire is quiet. */
function pair() {
  const clock = new ManualClock(0);
  const pool = new BufferPool({ slotSize: 2048, slots: 256 });
  const wire: { src: number; dst: number; bytes: Uint8Array }[] = [];
  const layer = (src: number) =>
    new TcpLayer({
      ip: {
        allocate: (): PacketBufferLike | null => pool.alloc(HEADROOM),
        send: (buf: PacketBufferLike, dst: number) => {
          wire.push({ src, dst, bytes: buf.bytes.slice(buf.head, buf.tail) });
          pool.free(buf as PacketBuffer);
          return true;
        },
        sourceAddressFor: () => src,
        mtuFor: () => 1500,
      },
      wheel: new TimerWheel(0),
      clock,
      config: { delayedAckMs: 1 },
      secret: new Uint8Array(16).fill(3),
      random: () => 0.25,
    });
  const a = layer(A);
  const b = layer(B);
  const deliver = () => {
    for (let guard = 0; wire.length > 0 && guard < 1000; guard++) {
      const d = wire.shift()!;
      (d.dst === A ? a : b).onPacket(clock.now(), d.src, d.dst, d.bytes, 0, d.bytes.length);
    }
  };
  const listener = b.listen(80);
  const client = a.connect(clock.now(), B, 80);
  deliver();
  const server = listener.accept() as TcpConnection;
  assert.equal(server.state, TcpState.ESTABLISHED);
  return { client, server, deliver };
}

Deno.test("TcpConnection.close with unread data resets and gives the receive ring back", () => {
  const { client, server, deliver } = pair();
  const data = new Uint8Array(1000).fill(7);
  assert.equal(client.write(data, 0, data.length), data.length);
  deliver();
  assert.equal(server.readableLength, 1000);
  assert.ok(server.bufferBytes > 0);
  server.close(); // RFC 9293 §3.6: unread data → RST
  deliver();
  assert.equal(server.state, TcpState.CLOSED);
  assert.equal(server.released, true);
  assert.equal(client.state, TcpState.CLOSED);
  assert.equal(client.error?.code, "ECONNRESET");
  assert.equal(server.bufferBytes, 0, "the released connection holds no ring storage");
});

Deno.test("TcpConnection.abort with unread data gives the receive ring back", () => {
  const { client, server, deliver } = pair();
  const data = new Uint8Array(500).fill(1);
  client.write(data, 0, data.length);
  deliver();
  assert.equal(server.readableLength, 500);
  server.abort();
  deliver();
  assert.equal(server.state, TcpState.CLOSED);
  assert.equal(server.bufferBytes, 0);
  assert.equal(client.bufferBytes, 0);
});
