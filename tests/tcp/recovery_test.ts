// Loss-recovery strategies on their own, over a stand-in for the TCB's sender state:
// NewReno's window inflation (RFC 6582 §3.2) and RFC 6675's pipe and NextSeg.
import assert from "node:assert/strict";
import {
  RenoRecovery,
  RETRANSMIT_HOLD,
  RETRANSMIT_NONE,
  SackRecovery,
} from "../../src/tcp/recovery.ts";
import { SackScoreboard } from "../../src/tcp/sack_scoreboard.ts";
import type { Tcb } from "../../src/tcp/tcb.ts";

const MSS = 1000;

/** The sender fields a strategy reads: ten segments in flight from 1000. */
function sender(): {
  cc: { cwnd: number; ssthresh: number };
  sndMss: number;
  sndUna: number;
  sndNxt: number;
  sndMax: number;
  dataSeq: number;
  highRxt: number;
  scoreboard: SackScoreboard | null;
} {
  return {
    cc: { cwnd: 5 * MSS, ssthresh: 5 * MSS },
    sndMss: MSS,
    sndUna: 1000,
    sndNxt: 11_000,
    sndMax: 11_000,
    dataSeq: 1000,
    highRxt: 1000,
    scoreboard: null,
  };
}

const asTcb = (s: ReturnType<typeof sender>) => s as unknown as Tcb;

Deno.test("RenoRecovery inflates the window per duplicate ACK and deflates it on partial ACKs (RFC 6582 §3.2)", () => {
  const s = sender();
  const r = new RenoRecovery();
  assert.equal(r.lossDetected(asTcb(s), true), false); // only DupThresh duplicate ACKs
  r.enter(asTcb(s));
  // cwnd = ssthresh + 3*SMSS = 8000, less the 10000 outstanding.
  assert.equal(r.sendAllowance(asTcb(s)), -2000);
  for (let i = 0; i < 3; i++) r.onDuplicateAck(asTcb(s));
  assert.equal(r.sendAllowance(asTcb(s)), 1000);
  // A partial ACK of 2000 bytes: deflate by 2000, add back one SMSS; retransmit at SND.UNA.
  s.sndUna = 3000;
  assert.equal(r.onPartialAck(asTcb(s), 2000), true);
  assert.equal(r.sendAllowance(asTcb(s)), 11_000 - 2000 + 1000 - 8000);
  // Deflation never goes below one SMSS.
  assert.equal(r.onPartialAck(asTcb(s), 50_000), true);
  assert.equal(r.sendAllowance(asTcb(s)), MSS - 8000);
  assert.equal(r.nextRetransmission(asTcb(s)), RETRANSMIT_NONE);
});

Deno.test("SackRecovery declares loss from SACKs, sends what PRR allows and retransmits lost holes first (RFC 6675 §5, RFC 6937)", () => {
  const s = sender();
  const r = new SackRecovery();
  assert.equal(r.lossDetected(asTcb(s), true), false); // no scoreboard yet
  const sb = s.scoreboard = new SackScoreboard(8);
  sb.update([3000, 4000, 5000, 6000], 2, s.dataSeq, s.sndMax);
  assert.equal(r.lossDetected(asTcb(s), true), false); // two segments above the hole
  sb.update([7000, 8000], 1, s.dataSeq, s.sndMax);
  assert.equal(r.lossDetected(asTcb(s), true), true);
  assert.equal(r.lossDetected(asTcb(s), false), false); // nothing newly SACKed
  r.enter(asTcb(s));
  // Before an ACK of the recovery PRR allows nothing.
  assert.equal(r.sendAllowance(asTcb(s)), 0);
  assert.equal(r.nextRetransmission(asTcb(s)), RETRANSMIT_HOLD);
  // The ACK: pipe = 10000 - 3000 SACKed - 2000 lost = 5000 = ssthresh: slow-start reduction
  // bound; nothing sent yet, so the fast retransmit (one segment) is allowed.
  r.onAck(asTcb(s), 1000, false);
  assert.equal(r.sendAllowance(asTcb(s)), MSS);
  assert.equal(r.nextRetransmission(asTcb(s)), 0);
  assert.equal(r.retransmitEnd, 2000);
  r.onSent(MSS);
  assert.equal(r.nextRetransmission(asTcb(s)), RETRANSMIT_HOLD);
  // Retransmitted up to 3000 (HighRxt): no lost hole is left.
  s.highRxt = 3000;
  r.prr.allowance = 10 * MSS;
  assert.equal(r.nextRetransmission(asTcb(s)), RETRANSMIT_NONE);
  // Partial ACK: SND.UNA's segment goes again only if it was not retransmitted yet.
  s.sndUna = 2000;
  assert.equal(r.onPartialAck(asTcb(s), 1000), false);
  s.sndUna = 3000;
  assert.equal(r.onPartialAck(asTcb(s), 1000), true);
});
