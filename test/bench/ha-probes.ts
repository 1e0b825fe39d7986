// The traffic `npm run bench -- ha` keeps running across a fail-over, and
// what it saw: a 10 ms ping (the longest wait between two replies, and the
// requests lost), and in the lab a DHCP client in a VM sending a DISCOVER
// every 10 ms, each with its own xid (when each was sent, every reply to
// each). The DHCP frames are built and the replies decoded with weft's own
// codecs; a small raw-socket pump in the VM's namespace only stamps the xid,
// sends on time and passes the replies on with their arrival time. Times are
// CLOCK_MONOTONIC milliseconds on both sides (monotonicMs), so the pump's
// stamps compare with the kill's. A helper module: it exports no run().
import { type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BOOTREPLY, BOOTREQUEST, DHCP_CLIENT_PORT, DHCP_LAYOUT, DHCP_MESSAGE_TYPE, DHCP_SERVER_PORT, decodeDhcpMessage, encodeDhcpMessage,
} from '../../protocols/dhcp/index.js';
import { BROADCAST_IPV4, BROADCAST_MAC, LAYOUT, ZERO_IPV4, buildUdpFrame, parseUdpFrame } from '../../protocols/packet/index.js';
import { Proc } from '../harness/daemon.js';
import { PYTHON, type Vm } from '../harness/lab.js';
import { sleep } from '../harness/proc.js';
import { median } from './stats.js';

/** CLOCK_MONOTONIC in ms: what Python's time.monotonic() reads, in any network namespace. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface PingFigures {
  sent: number;
  /** Requests older than the last reply that got none (one still in flight at the stop is not lost). */
  lost: number;
  /** The longest time between two consecutive replies, or from the last reply to the stop. */
  largestGapMs: number;
  /** When that longest wait began (epoch ms): the arrival of the reply before it. */
  largestGapFrom: number;
  /** The median time between two consecutive replies: what ping -i 0.01 achieves here without an outage. */
  medianGapMs: number;
}

/** `ping -i 0.01` from a namespace, until stop(). */
export class Ping {
  private constructor(private readonly proc: Proc) {}

  static start(netns: string, dst: string): Ping {
    // -D stamps each reply with the wall clock at its arrival, so gaps do not include the pipe's delay.
    return new Ping(new Proc('ip', ['netns', 'exec', netns, 'ping', '-n', '-D', '-i', '0.01', dst]));
  }

  /** The replies so far, in arrival order, duplicates left out: sequence number and arrival time (epoch ms). */
  replies(): { seq: number; at: number }[] {
    return [...this.proc.stdout().matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=(\d+).*$/gm)]
      .filter((m) => !m[0].includes('DUP!'))
      .map((m) => ({ seq: Number(m[2]), at: Number(m[1]) * 1000 }));
  }

  /** Waits until `count` replies have come. */
  async warm(count: number, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.replies().length < count) {
      if (!this.proc.running) throw new Error(`ping exited: ${this.proc.stdout()}${this.proc.stderr()}`);
      if (Date.now() > deadline) throw new Error(`ping: fewer than ${count} replies in ${ms} ms: ${this.proc.stdout().slice(-500)}`);
      await sleep(10);
    }
  }

  /** SIGINT, as at a terminal: ping prints its summary and exits. */
  async stop(): Promise<PingFigures> {
    const stoppedAt = Date.now();
    await this.proc.stop('SIGINT');
    const m = /(\d+) packets transmitted/.exec(this.proc.stdout());
    if (!m) throw new Error(`ping: no summary: ${this.proc.stdout().slice(-500)}${this.proc.stderr()}`);
    const replies = this.replies();
    if (replies.length === 0) throw new Error('ping: no reply at all');
    const gaps = replies.slice(1).map((r, i) => r.at - replies[i]!.at);
    // The wait after the last reply counts too: an outage that never ended has no reply to close it.
    let from = replies[replies.length - 1]!.at;
    let largest = stoppedAt - from;
    gaps.forEach((g, i) => {
      if (g > largest) [largest, from] = [g, replies[i]!.at];
    });
    // icmp_seq counts from 1.
    const lost = Math.max(...replies.map((r) => r.seq)) - new Set(replies.map((r) => r.seq)).size;
    return { sent: Number(m[1]), lost, largestGapMs: Math.round(largest), largestGapFrom: from, medianGapMs: Math.round(median(gaps) * 10) / 10 };
  }
}

const PUMP_PY = String.raw`import select, socket, struct, sys, time
iface, frame, at, first, every = sys.argv[1], bytearray.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]) / 1000
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((iface, 0))
xid, due = first, time.monotonic()
while True:
    now = time.monotonic()
    if now >= due:
        struct.pack_into('!I', frame, at, xid)
        s.send(frame)
        print('S %d %.3f' % (xid, time.monotonic() * 1000), flush=True)
        xid = (xid + 1) & 0xffffffff
        # A stall skips the slots it missed rather than bursting to catch up.
        due = max(due + every, now)
        continue
    if select.select([s], [], [], due - now)[0]:
        p, addr = s.recvfrom(4096)
        t = time.monotonic() * 1000
        if addr[2] == socket.PACKET_OUTGOING or len(p) < 42 or p[23] != 17: continue
        u = 14 + (p[14] & 15) * 4
        if struct.unpack('!H', p[u + 2:u + 4])[0] == 68: print('R %.3f %s' % (t, p.hex()), flush=True)
`;

/** A DHCP client in a VM sending a DISCOVER every `everyMs`, each with a new xid, until stop(). */
export class DhcpProbe {
  /** xid → when it was sent (monotonic ms). */
  private readonly sent = new Map<number, number>();
  /** xid → when each reply to it arrived (monotonic ms). */
  private readonly replies = new Map<number, number[]>();
  private partial = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.read(d));
    child.stderr!.resume();
  }

  static start(vm: Vm, everyMs = 10): DhcpProbe {
    const discover = encodeDhcpMessage({
      op: BOOTREQUEST, htype: 1, hops: 0, xid: 0, secs: 0, broadcast: false, reservedFlags: 0,
      ciaddr: ZERO_IPV4, yiaddr: ZERO_IPV4, siaddr: ZERO_IPV4, giaddr: ZERO_IPV4, chaddr: vm.mac, sname: '', file: '',
      options: [{ name: 'messageType', value: DHCP_MESSAGE_TYPE.DISCOVER }],
    });
    const frame = buildUdpFrame({
      ethSrc: vm.mac, ethDst: BROADCAST_MAC, ipSrc: ZERO_IPV4, ipDst: BROADCAST_IPV4,
      srcPort: DHCP_CLIENT_PORT, dstPort: DHCP_SERVER_PORT, payload: discover,
    });
    const udp = LAYOUT.ethernet.headerLength + LAYOUT.ipv4.minHeaderLength;
    // No UDP checksum (zero, RFC 768), so the pump can stamp each xid without computing one.
    frame.fill(0, udp + LAYOUT.udp.checksum.offset, udp + LAYOUT.udp.checksum.offset + 2);
    const script = join(vm.lab.dir, 'dhcp-pump.py');
    writeFileSync(script, PUMP_PY);
    // Random first xid: a late reply from an earlier probe cannot pass for one of this one's.
    const first = Math.floor(Math.random() * 0x7fffffff);
    const args = ['-I', '-S', script, 'eth0', Buffer.from(frame).toString('hex'), String(udp + LAYOUT.udp.headerLength + DHCP_LAYOUT.xid), String(first), String(everyMs)];
    return new DhcpProbe(vm.lab.spawnIn(vm.netns, PYTHON, args));
  }

  private read(d: string): void {
    this.partial += d;
    const lines = this.partial.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      const [kind, a, b] = line.split(' ');
      if (kind === 'S') this.sent.set(Number(a), Number(b));
      else if (kind === 'R') this.reply(Number(a), Buffer.from(b!, 'hex'));
    }
  }

  private reply(at: number, bytes: Buffer): void {
    let xid: number;
    try {
      const m = decodeDhcpMessage(parseUdpFrame(bytes).udp.payload);
      if (m.op !== BOOTREPLY) return;
      xid = m.xid;
    } catch {
      // Not a DHCP reply (the pump passes on anything to port 68).
      return;
    }
    if (!this.sent.has(xid)) return;
    const seen = this.replies.get(xid);
    if (seen) seen.push(at);
    else this.replies.set(xid, [at]);
  }

  /** When the earliest reply to a request sent at or after `since` arrived, once one has; rejects after `ms`. */
  async firstAnswerAfter(since: number, ms = 60_000): Promise<number> {
    const deadline = monotonicMs() + ms;
    for (;;) {
      let first: number | undefined;
      for (const [xid, times] of this.replies) {
        if (this.sent.get(xid)! >= since && (first === undefined || times[0]! < first)) first = times[0]!;
      }
      if (first !== undefined) return first;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error('dhcp probe: the pump exited');
      if (monotonicMs() > deadline) throw new Error(`dhcp probe: no reply to a request sent in the ${ms} ms after the mark`);
      await sleep(5);
    }
  }

  /** Requests sent so far, and how many were answered. */
  counts(): { requests: number; answered: number } {
    return { requests: this.sent.size, answered: this.replies.size };
  }

  /** The requests that got more than one reply: when each was sent and when its replies came. */
  twoAnswers(): { sentAt: number; repliesAt: number[] }[] {
    return [...this.replies].filter(([, times]) => times.length > 1).map(([xid, times]) => ({ sentAt: this.sent.get(xid)!, repliesAt: times }));
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
