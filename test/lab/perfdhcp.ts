// Reading what perfdhcp prints (Kea's DHCP benchmark client, -4), and the
// DHCP replies a tcpdump -xx capture saw, for the lab tests and the bench.
import { BOOTREPLY, decodeDhcpMessage, getOption } from '../../protocols/dhcp/index.js';
import { parseUdpFrame } from '../../protocols/packet/index.js';

/** perfdhcp's counters and delays (ms) for one exchange, e.g. "DISCOVER-OFFER". */
export interface ExchangeStats {
  sent: number;
  received: number;
  drops: number;
  min: number;
  avg: number;
  max: number;
  std: number;
}

export function exchangeStats(text: string, name: string): ExchangeStats | undefined {
  const block = text.split(`***Statistics for: ${name}***`)[1]?.split('***')[0];
  if (!block) return undefined;
  const n = (label: string) => Number(new RegExp(`${label}: ([0-9.]+)`).exec(block)?.[1] ?? NaN);
  return { sent: n('sent packets'), received: n('received packets'), drops: n('drops'), min: n('min delay'), avg: n('avg delay'), max: n('max delay'), std: n('std deviation') };
}

/** With -x t: each successful exchange as [sent, received], seconds since perfdhcp started. */
export function exchangeTimes(text: string, name: string): [number, number][] {
  const block = text.split(`***Timestamps for packets: ${name}***`)[1]?.split('***')[0] ?? '';
  return [...block.matchAll(/sent \/ received: ([0-9.]+) \/ ([0-9.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** With -x l: the addresses of the leases perfdhcp saw in an exchange. */
export function exchangeLeases(text: string, name: string): string[] {
  const block = text.split(`***Leases for ${name}***`)[1]?.split('***')[0] ?? '';
  return [...block.matchAll(/^[^,\n]*,(\d+\.\d+\.\d+\.\d+),/gm)].map((m) => m[1]!);
}

/** The q-quantile (0..1) of `values` by the nearest-rank method; NaN when empty. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A DHCP reply a capture saw: its type (DHCP_MESSAGE_TYPE), client and address. */
export interface CapturedReply {
  type: number;
  chaddr: string;
  yiaddr: string;
  xid: number;
  /** When the capture saw it, epoch ms: only from `tcpdump -tt`, whose header lines start with epoch seconds. */
  at?: number;
}

/**
 * The DHCP replies (BOOTREPLY) in the text of `tcpdump -xx` (each frame as
 * hex lines under its header line), decoded with protocols/packet and
 * protocols/dhcp. Capture only DHCP: any other frame, or one that does not
 * decode, is returned in `undecoded` with the reason.
 */
export function capturedReplies(text: string): { replies: CapturedReply[]; undecoded: string[] } {
  const frames: { hex: string; at: number | undefined }[] = [];
  for (const line of text.split('\n')) {
    const hex = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4} ?)+)/.exec(line);
    if (hex) frames[frames.length - 1]!.hex += hex[1]!.replace(/\s+/g, '');
    else if (line.trim()) {
      const epoch = /^(\d{9,}\.\d+) /.exec(line);
      frames.push({ hex: '', at: epoch ? Number(epoch[1]) * 1000 : undefined });
    }
  }
  const replies: CapturedReply[] = [];
  const undecoded: string[] = [];
  for (const { hex, at } of frames) {
    try {
      const { udp } = parseUdpFrame(Buffer.from(hex, 'hex'));
      const m = decodeDhcpMessage(udp.payload);
      const type = getOption(m, 'messageType');
      if (m.op !== BOOTREPLY || type === undefined) throw new Error(`op ${m.op}, message type ${type}`);
      replies.push({ type, chaddr: m.chaddr, yiaddr: m.yiaddr, xid: m.xid, ...(at === undefined ? {} : { at }) });
    } catch (e) {
      undecoded.push(`${String(e)}: ${hex.slice(0, 120)}`);
    }
  }
  return { replies, undecoded };
}
